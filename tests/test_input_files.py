"""Files given to a CLI that are not what they seem (a FIFO, a device, a dangling link, a huge or cut
file, the command's own input as its output): one ``error:`` line, nothing read for long, nothing lost."""
import os
import re
import time

import numpy as np
import pytest
from PIL import Image

import score
from modules.errors import UserInputError
from modules.eval.quality import read_gif
from modules.eval.submission import csv_header
from modules.io import write_json
from modules.train.runfolder import claimed_run_folder
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


def test_score_never_writes_over_its_inputs(tmp_path, capsys):
    answer = tiny_answer(tmp_path / "answer.csv")
    submission = tiny_answer(tmp_path / "sub.csv", value=7)
    (tmp_path / "alias.csv").symlink_to(submission)
    kept = submission.read_bytes()
    for output, source in ((submission, submission), (tmp_path / "alias.csv", submission), (answer, answer)):
        err = expect_exit("score", [str(submission), "--answer", str(answer), *SIZE, "--write_answer", str(output)],
                          capsys)
        assert f"--write_answer {output} is the input {source}: writing it would destroy it" in err
    err = expect_exit("score", [str(submission), "--answer", str(answer), *SIZE, "--json", str(submission)], capsys)
    assert f"--json {submission} is the input {submission}" in err
    assert submission.read_bytes() == kept and answer.read_text().count("\n") == 3


def test_a_folder_as_an_output_is_refused_before_scoring(tmp_path, capsys):
    answer = tiny_answer(tmp_path / "answer.csv")
    (tmp_path / "runs").mkdir()
    with pytest.raises(SystemExit):
        score.main([str(answer), "--answer", str(answer), *SIZE, "--json", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert err == f"error: --json {tmp_path / 'runs'} is a folder: give a file name\n"
    assert "answer:" not in out and list((tmp_path / "runs").iterdir()) == []
    with pytest.raises(UserInputError, match="cannot write .*runs: it is a folder; give a file name"):
        write_json(tmp_path / "runs", {})  # every atomic write: not IsADirectoryError after the work


HEADER = csv_header(48) + "\n"
HUGE = 1 << 30  # a sparse file: no disk space, but reading it would take seconds and gigabytes


def hole(path, header=""):
    path.write_text(header)
    os.truncate(path, HUGE)
    return path


@pytest.mark.parametrize("make, role, message", [
    (lambda p: hole(p), "submission", "is 1,073,741,824 bytes, more than 2 rows of 48 pixel values can take"),
    (lambda p: hole(p, HEADER), "submission", "is 1,073,741,824 bytes, more than 2 rows"),
    (lambda p: hole(p), "answer", "bad header: expected 'id,0,1,...,47' .49 columns., found 1 columns; "
                                  "column 1 is '\\\\x00\\\\x00"),
    (lambda p: hole(p, HEADER), "answer", "line 2 is longer than a row of 48 pixel values can be .over 392 bytes."),
])
def test_a_huge_csv_is_refused_without_reading_it(tmp_path, capsys, make, role, message):
    answer = tiny_answer(tmp_path / "answer.csv")
    huge = make(tmp_path / "huge.csv")
    started = time.perf_counter()
    argv = [str(huge), "--answer", str(answer)] if role == "submission" else [str(answer), "--answer", str(huge)]
    err = expect_exit("score", [*argv, *SIZE], capsys)
    assert re.search(message, err), err
    assert time.perf_counter() - started < 5


def cut_gifs(folder):
    """A 4-frame GIF of noise and that GIF cut at every 20th byte (Pillow fails on them with OSError,
    IndexError, struct.error, ... by where the cut falls)."""
    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)) for _ in range(4)]
    whole = folder / "whole.gif"
    frames[0].save(whole, save_all=True, append_images=frames[1:], duration=40)
    data = whole.read_bytes()
    for cut in range(20, len(data), 20):
        (folder / f"cut{cut}.gif").write_bytes(data[:cut])
    return whole, sorted(folder.glob("cut*.gif"))


def test_a_truncated_gif_is_one_line_wherever_it_was_cut(tmp_path, capsys):
    whole, cuts = cut_gifs(tmp_path)
    for cut in cuts:
        try:
            read_gif(cut)
        except UserInputError as err:
            assert f"{cut}: cannot read the GIF, the file is corrupt or truncated" in str(err)
    third = cuts[len(cuts) // 3]
    err = expect_exit("score", [str(third), "--answer", str(whole)], capsys)
    assert f"{third}: cannot read the GIF" in err
    err = expect_exit("make_dataset", ["import", "--pair", str(third), str(whole), "--out", str(tmp_path / "ds")],
                      capsys)
    assert f"{third}: cannot read the GIF" in err


def test_a_save_root_through_a_dangling_link_names_the_missing_target(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for root in (tmp_path / "dangling", tmp_path / "dangling" / "run"):
        with pytest.raises(UserInputError) as err, claimed_run_folder(root):
            pass
        assert str(err.value) == (f"--save_root {root}: {tmp_path / 'dangling'} is a symbolic link to "
                                  f"{tmp_path / 'nowhere'}, which does not exist: create that folder or pass "
                                  f"another --save_root")
    assert not (tmp_path / "nowhere").exists()
