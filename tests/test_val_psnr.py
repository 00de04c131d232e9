"""val_PSNR.py: the per-frame plot, CSV and summary, and the sampling modes."""
import csv
import re
import json

import numpy as np
import pytest
import torch
from PIL import Image

import val_PSNR
from conftest import TINY_WIDTHS
from modules.checkpoint import save_checkpoint
from modules.eval.metrics import psnr_per_frame
from modules.eval.val_psnr import analyse
from modules.vae import VAE_Model

TINY = dict(**TINY_WIDTHS, output_mode="anchored")
VAL_LEN = 12



@pytest.fixture
def run(tmp_path):
    """A tiny val split (a smooth moving pattern) and a checkpoint of a tiny anchored model."""
    ramp = np.linspace(0, 255, 64)
    for t in range(VAL_LEN):
        frame = np.stack([np.tile(np.roll(ramp, 2 * t), (32, 1))] * 3, axis=-1).astype(np.uint8)
        for folder in ("val_img", "val_label"):
            path = tmp_path / "data" / "val" / folder / f"frame{t}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(frame if folder == "val_img" else 255 - frame).save(path)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt",
                    {"model": VAE_Model(**TINY).state_dict(), "epoch": 4, "config": TINY})
    return tmp_path


def _main(run, *args):
    val_PSNR.main(["--DR", str(run / "data"), "--ckpt_path", str(run / "run" / "checkpoints" / "last.pt"),
                   "--val_vi_len", str(VAL_LEN), "--device", "cpu", *map(str, args)])


def test_outputs_plot_csv_and_summary(run):
    _main(run, "--num_samples", 3)
    out = run / "run"  # default --save_root: the checkpoint's run folder
    assert (out / "val_psnr_prior_k3.png").stat().st_size > 1000
    with open(out / "val_psnr_prior_k3.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["frame"]) for r in rows] == list(range(1, VAL_LEN))
    assert list(rows[0]) == ["frame", "psnr", "psnr_std", "psnr_min", "psnr_max", "ssim", "ssim_std"]
    summary = json.loads((out / "val_psnr_prior_k3.json").read_text())
    assert summary["mode"] == "prior" and summary["label"] == "prior z" and summary["num_samples"] == 3
    assert summary["avg_psnr"] == pytest.approx(np.mean([float(r["psnr"]) for r in rows]), abs=1e-3)
    assert summary["kaggle_psnr"] == pytest.approx(summary["avg_psnr"], abs=0.2)  # 8-bit rounding only
    assert 0 < summary["ssim"] <= 1 and summary["kaggle_frames"] == f"1..{VAL_LEN - 1}"
    assert len(summary["sample_avg_psnr"]) == 3 and summary["epoch"] == 4
    for key in ("vacated_psnr", "silhouette_iou", "copy_vacated_psnr", "copy_silhouette_iou"):
        assert key in summary


def test_modes_are_labelled_in_the_file_names(run):
    _main(run, "--mode", "zero", "--save_root", run / "out")
    _main(run, "--mode", "best_of_k", "--num_samples", 2, "--save_root", run / "out")
    names = sorted(p.name for p in (run / "out").iterdir())
    assert names == ["val_psnr_best_of_2.csv", "val_psnr_best_of_2.json", "val_psnr_best_of_2.png",
                     "val_psnr_zero.csv", "val_psnr_zero.json", "val_psnr_zero.png"]
    assert json.loads((run / "out" / "val_psnr_zero.json").read_text())["label"] == "zero z"


def test_best_of_k_keeps_the_best_prior_sample_and_zero_is_deterministic():
    torch.manual_seed(0)
    model = VAE_Model(**TINY).eval()
    frames, poses = torch.rand(6, 3, 16, 16), torch.rand(6, 3, 16, 16)
    prior = analyse(model, frames, poses, mode="prior", num_samples=4, seed=5)
    best = analyse(model, frames, poses, mode="best_of_k", num_samples=4, seed=5)
    assert prior["psnr"].shape == (4, 5) and best["psnr"].shape == (1, 5)
    assert best["chosen"] == int(prior["psnr"].mean(axis=1).argmax())
    np.testing.assert_allclose(best["psnr"][0], prior["psnr"][best["chosen"]])
    zero_a = analyse(model, frames, poses, mode="zero", seed=1)
    zero_b = analyse(model, frames, poses, mode="zero", seed=2)
    np.testing.assert_array_equal(zero_a["psnr"], zero_b["psnr"])
    np.testing.assert_allclose(zero_a["psnr"][0],
                               psnr_per_frame(zero_a["video"][1:], frames[1:]).numpy(), rtol=1e-6)


@pytest.mark.parametrize("args, message", [
    (("--mode", "best_of_k"), "best_of_k needs --num_samples K with K > 1"),
    (("--mode", "zero", "--num_samples", 3), "--mode zero is deterministic"),
    (("--val_vi_len", 20), "fewer than one clip of 20 frames"),
])
def test_bad_requests_exit_with_a_message(run, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        _main(run, *args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_a_second_checkpoint_of_the_run_keeps_the_first_ones_outputs(run, capsys):
    ckpts = run / "run" / "checkpoints"
    (ckpts / "epoch_001.pt").write_bytes((ckpts / "last.pt").read_bytes())
    (run / "run" / ".val_psnr_prior.x1.tmp.png").write_bytes(b"left by a killed run")
    _main(run)
    first = json.loads((run / "run" / "val_psnr_prior.json").read_text())
    assert not (run / "run" / ".val_psnr_prior.x1.tmp.png").exists()
    val_PSNR.main(["--DR", str(run / "data"), "--ckpt_path", str(ckpts / "epoch_001.pt"),
                   "--val_vi_len", str(VAL_LEN), "--device", "cpu"])
    assert json.loads((run / "run" / "val_psnr_prior.json").read_text()) == first
    second = json.loads((run / "run" / "epoch_001" / "val_psnr_prior.json").read_text())
    assert second["checkpoint"] == str(ckpts / "epoch_001.pt")
    assert "holds the outputs of" in capsys.readouterr().out
    _main(run)  # the same checkpoint again: its own outputs are replaced, in place
    assert not (run / "run" / "last").exists()


def test_running_out_of_memory_names_num_samples(run, monkeypatch, capsys):
    import modules.eval.val_psnr as report

    def allocation_fails(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] . DefaultCPUAllocator: can't allocate memory: you "
                           "tried to allocate 6193152000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(report, "rollout_and_score", allocation_fails)
    with pytest.raises(SystemExit) as exit_info:
        _main(run, "--num_samples", 400)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert re.search(r"out of memory rolling out --num_samples 400 samples of the 12-frame validation video on cpu "
                     r"in one batch .the outputs alone take 0.1 GB.: lower --num_samples", err), err
