"""Files given to a CLI that are not what they seem (a FIFO, a device, a dangling link, a huge or cut
file, the command's own input as its output): one ``error:`` line, nothing read for long, nothing lost."""
import os

from test_cli_errors import SIZE, expect_exit, tiny_answer


def test_a_fifo_a_device_and_a_dangling_link_are_named_as_such(tmp_path, capsys):
    answer = tiny_answer(tmp_path / "answer.csv")
    fifo = tmp_path / "sub.csv"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    err = expect_exit("score", [str(fifo), "--answer", str(answer), *SIZE], capsys)
    assert f"CSV {fifo} is not a regular file (a FIFO)" in err
    err = expect_exit("Tester", ["--ckpt_path", os.devnull, "--device", "cpu"], capsys)
    assert f"checkpoint {os.devnull} is not a regular file (a character device)" in err
    (tmp_path / "link.pt").symlink_to(tmp_path / "gone.pt")
    err = expect_exit("Tester", ["--ckpt_path", str(tmp_path / "link.pt"), "--device", "cpu"], capsys)
    assert f"checkpoint {tmp_path / 'link.pt'} is a symbolic link to {tmp_path / 'gone.pt'}, which does not exist" in err
