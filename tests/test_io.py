"""Atomic writes: the target appears only complete, a failed write leaves the old file and no temp file."""
import errno
import json
import os
import stat

import matplotlib
import pytest
import torch

from modules import io
from modules.errors import UserInputError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def test_every_writer_writes_its_format(tmp_path):
    assert io.write_text(tmp_path / "a.txt", "hello").read_text() == "hello"
    assert io.write_bytes(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert json.loads(io.write_json(tmp_path / "c.json", {"x": [1, 2]}).read_text()) == {"x": [1, 2]}
    io.save_torch({"w": torch.arange(3)}, tmp_path / "d.pt")
    assert torch.equal(torch.load(tmp_path / "d.pt", weights_only=True)["w"], torch.arange(3))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    io.save_figure(fig, tmp_path / "e.png")
    plt.close(fig)
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.json", "d.pt", "e.png"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, error):
    target = io.write_text(tmp_path / "metrics.csv", "old")
    with pytest.raises(error):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise error
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def test_two_writers_of_one_file_use_different_temp_names(tmp_path):
    with io.atomic_path(tmp_path / "last.pt") as first, io.atomic_path(tmp_path / "last.pt") as second:
        assert first != second and first.parent == second.parent == tmp_path
        assert first.suffix == ".pt" and first.name.startswith(".last.")
        first.write_text("1")
        second.write_text("2")
    assert (tmp_path / "last.pt").read_text() == "1"  # the outer block finishes last


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        assert io.current_umask() == umask
        for path in (io.write_text(tmp_path / "a.csv", "x"), io.save_torch({}, tmp_path / "b.pt")):
            assert stat.S_IMODE(path.stat().st_mode) == mode
    finally:
        os.umask(previous)


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"),
                                     RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 474560 "
                                                  "vs 474448")])
def test_a_full_disk_is_named_and_leaves_the_old_file(tmp_path, failure):
    target = io.write_text(tmp_path / "last.pt", "old")
    with pytest.raises(UserInputError, match=f"cannot write {target}: the disk is full .* MB free"):
        with io.atomic_path(target):
            raise failure
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_other_errors_pass_through_unchanged(tmp_path):
    with pytest.raises(RuntimeError, match="a bug"), io.atomic_path(tmp_path / "x.txt"):
        raise RuntimeError("a bug")


def test_a_missing_or_unwritable_folder_is_named(tmp_path, monkeypatch):
    with pytest.raises(UserInputError, match=f"the folder {tmp_path / 'nope' / 'dir'} does not exist"):
        io.write_json(tmp_path / "nope" / "dir" / "s.json", {})

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(io.tempfile, "mkstemp", read_only)
    with pytest.raises(UserInputError, match=r"cannot write .*x.gif \(Read-only file system\)"):
        io.write_bytes(tmp_path / "x.gif", b"")


def test_stale_temp_files_are_removed_by_name(tmp_path):
    for name in (".submission.abc.tmp.csv", ".metrics.x.tmp.csv", "submission.csv"):
        (tmp_path / name).write_text("")
    io.remove_stale_temp_files(tmp_path, ["submission"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".metrics.x.tmp.csv", "submission.csv"]
    io.remove_stale_temp_files(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]
