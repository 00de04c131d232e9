"""Atomic writes: the target appears only complete, a failed write leaves the old file and no temp file."""
import json

import matplotlib
import pytest
import torch

from modules import io

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
