"""What a first run prints: dataset generation and decoding, a progress line when tqdm is silent (not in
a terminal), the data-loading choice once, and at the end the best checkpoint and the next commands."""
import shlex
from pathlib import Path

import pytest

import modules.train.loop as training
from conftest import TINY_DATASET
from dataloader import Dataset_Dance
from modules import console
from modules.config import parse_train_args
from modules.data.synthetic import generate_dataset
from modules.train.report import REPO
from modules.train.setup import describe_num_workers
from test_trainer import TINY_FLAGS

# The tiny flags without --num_workers: the default is what a first run gets.
DEFAULT_WORKER_FLAGS = [f for i, f in enumerate(TINY_FLAGS) if "--num_workers" not in TINY_FLAGS[max(0, i - 1):i + 1]]


def test_a_run_outside_a_terminal_says_what_it_does(tiny_dataset, tmp_path, capsys, monkeypatch, recwarn):
    monkeypatch.setattr(console, "PROGRESS_INTERVAL_S", 0.0)
    run = tmp_path / "run"
    training.fit(parse_train_args(["--DR", str(tiny_dataset), "--save_root", str(run), *DEFAULT_WORKER_FLAGS,
                                   "--num_epoch", "1"]))
    out = capsys.readouterr().out
    assert f"training on cpu: 12 clips of 4 frames per epoch (6 steps of batch 2), epochs 1..1; writing to {run}\n" in out
    assert out.count("data loading: 0 worker processes, the frames are already in memory "
                     "(pass --num_workers N to choose)") == 1
    assert "epoch 1/1: batch 1/6, loss " in out and "epoch 1/1: batch 6/6, loss " in out
    assert not [w for w in recwarn if "worker" in str(w.message)]
    best = run / "checkpoints" / "best.pt"
    lines = out.splitlines()
    summary = lines[lines.index(next(line for line in lines if line.startswith("best checkpoint:"))):]
    assert summary[0].startswith(f"best checkpoint: {best} (val PSNR ") and summary[0].endswith(" dB, epoch 1)")
    tester, val_psnr = (shlex.split(line.split("#")[0]) for line in summary[2:4])
    assert Path(tester[1]).resolve() == REPO / "Tester.py" and Path(val_psnr[1]).resolve() == REPO / "val_PSNR.py"
    assert tester[2:] == ["--ckpt_path", str(best), "--DR", str(tiny_dataset), "--make_gif"]
    assert val_psnr[2:] == ["--ckpt_path", str(best), "--DR", str(tiny_dataset)]


def test_an_explicit_num_workers_is_kept_and_not_commented():
    cfg = parse_train_args(TINY_FLAGS)
    assert cfg.num_workers == 0 and describe_num_workers(cfg) is None
    assert parse_train_args(["--num_workers", "1"]).num_workers == 1  # (more than the CPUs: test_cli_errors)


@pytest.mark.parametrize("terminal", [False, True])
def test_progress_and_notes_only_where_no_bar_shows(terminal, capsys, monkeypatch):
    monkeypatch.setattr(console, "bars_shown", lambda: terminal)
    monkeypatch.setattr(console, "PROGRESS_INTERVAL_S", 0.0)
    progress = console.Progress("epoch 1/2", 3)
    progress.update(1, loss=0.012345)
    console.note("decoding")
    expected = "" if terminal else "epoch 1/2: batch 1/3, loss 0.01235, 0 s\ndecoding\n"
    assert capsys.readouterr().out == expected


def test_generation_and_decoding_are_announced_once(tmp_path, capsys):
    root = generate_dataset(tmp_path / "ds", progress=True, workers=1, **TINY_DATASET)
    frames = 2 * 24 + 20 + 20
    assert f"generating the synthetic dataset: {frames} frames into {root} (once, 1 processes)" in capsys.readouterr().out
    Dataset_Dance(root, "val", video_len=20)
    assert "decoding val: 40 frames to 32x64 (once; later runs read the cache)" in capsys.readouterr().out
    Dataset_Dance(root, "val", video_len=20)
    assert "decoding" not in capsys.readouterr().out
