"""End-to-end training on a tiny synthetic dataset: outputs, loss falls, exact resume, faults."""
import math
import re

import pytest
import torch

import modules.train.loop as training
import Trainer
from conftest import TINY_WIDTH_FLAGS
from modules import runtime
from modules.checkpoint import load_checkpoint
from modules.config import parse_train_args
from modules.errors import UserInputError
from modules.train.runlog import read_metrics

TINY_FLAGS = [*TINY_WIDTH_FLAGS, "--device", "cpu", "--num_workers", "0", "--train_vi_len", "4", "--val_vi_len",
              "20", "--batch_size", "2", "--per_save", "2", "--seed", "1"]


def config(dataset, save_root, *flags):
    return parse_train_args(["--DR", str(dataset), "--save_root", str(save_root), *TINY_FLAGS, *flags])


@pytest.fixture
def no_curves(monkeypatch):
    """Skip the per-epoch curves and GIFs (matplotlib and GIF encoding are most of a tiny epoch's time)
    in tests about checkpoints, metrics and folders."""
    monkeypatch.setattr(training, "plot_training_curves", lambda *args: None)
    monkeypatch.setattr(training, "save_gif", lambda *args, **kwargs: None)
    monkeypatch.setattr(training, "copy_file", lambda *args: None)


def without_time(rows):
    """The rows without their timings, with NaN (a value not written) as None so that rows compare."""
    return [{k: (None if v != v else v) for k, v in row.items() if k != "seconds"} for row in rows]


def test_training_lowers_the_loss_and_writes_every_output(tiny_dataset, tmp_path):
    run = training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "4", "--lr", "3e-3",
                              "--kl_anneal_type", "None", "--kl_reduction", "mean", "--milestones",
                              "--output_mode", "anchored", "--store_visualization"))
    rows = read_metrics(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
    assert rows[-1]["train_loss"] < 0.7 * rows[0]["train_loss"]
    for name in ("loss.png", "psnr.png", "beta.png", "tfr.png", "val_rollout.gif", "val_rollout_best.gif",
                 "gifs/epoch_004.gif", "checkpoints/last.pt", "checkpoints/best.pt",
                 "checkpoints/epoch_002.pt", "checkpoints/epoch_004.pt"):
        assert (run / name).is_file(), name
    # the copy-frame-0 baselines of the one validation video are the same every epoch
    assert len({(r["copy_vacated_psnr"], r["copy_silhouette_iou"]) for r in rows}) == 1
    assert all(0 <= r["val_silhouette_iou"] <= 1 or r["val_silhouette_iou"] != r["val_silhouette_iou"] for r in rows)
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == 4 and set(ckpt) >= {"model", "optimizer", "scheduler", "rng", "config", "model_config", "best_psnr"}
    assert ckpt["model_config"] == {"arch": "template", "F_dim": 16, "L_dim": 8, "N_dim": 4, "D_out_dim": 16,
                                    "fix_leaky_relu": False, "output_mode": "anchored"}
    assert ckpt["best_psnr"] == pytest.approx(max(r["val_psnr"] for r in rows))


def test_resume_continues_exactly(tiny_dataset, tmp_path):
    flags = ["--milestones", "1", "3", "--tfr_sde", "1", "--tfr_d_step", "0.5"]
    straight = training.fit(config(tiny_dataset, tmp_path / "straight", "--num_epoch", "4", *flags))
    split = training.fit(config(tiny_dataset, tmp_path / "split", "--num_epoch", "2", *flags))
    training.fit(config(tiny_dataset, tmp_path / "split", "--num_epoch", "4", *flags,
                        "--ckpt_path", str(split / "checkpoints" / "last.pt")))
    assert without_time(read_metrics(split / "metrics.csv")) == without_time(read_metrics(straight / "metrics.csv"))
    a = load_checkpoint(straight / "checkpoints" / "last.pt")
    b = load_checkpoint(split / "checkpoints" / "last.pt")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert a["scheduler"] == b["scheduler"]


def test_cosine_lr_every_batch_and_validation_every_other_epoch(tiny_dataset, tmp_path, capsys):
    cfg = config(tiny_dataset, tmp_path / "run", "--num_epoch", "3", "--lr", "2e-3", "--lr_schedule", "cosine",
                 "--lr_warmup", "0.5", "--val_every", "2")
    run = training.fit(cfg)
    rows = read_metrics(run / "metrics.csv")
    validated = [r["epoch"] for r in rows if r["val_psnr"] == r["val_psnr"]]
    assert validated == [1, 2]  # every 2nd epoch, and the last
    assert rows[0]["lr"] == 0.0  # the warm-up starts from 0 ...
    assert rows[2]["lr"] == pytest.approx(2e-3 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 1.5 / 2.5))))
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    assert best["best_psnr"] == max(rows[1]["val_psnr"], rows[2]["val_psnr"])
    out = capsys.readouterr().out
    assert "epoch 1/3: " in out and "not validated (--val_every)" in out
    assert re.search(r"this epoch took \d+ s: about [\d.]+ min for the 2 left", out)
    assert "running on " in out and ", fp32" in out


def test_resume_keeps_the_kl_schedule_of_the_first_start(tiny_dataset, tmp_path, no_curves):
    """Monotonic beta spans the first start's --num_epoch: a 2-epoch run resumed to 3 epochs keeps beta at
    the end of its 2-epoch ramp instead of recomputing a 3-epoch one."""
    flags = ["--kl_anneal_type", "Monotonic", "--kl_anneal_ratio", "0.5", "--partial", "0.34", "--milestones"]
    extended = training.fit(config(tiny_dataset, tmp_path / "extended", "--num_epoch", "2", *flags))
    training.fit(config(tiny_dataset, extended, "--num_epoch", "3", *flags,
                        "--ckpt_path", str(extended / "checkpoints" / "last.pt")))
    assert [r["beta"] for r in read_metrics(extended / "metrics.csv")] == [0.0, 1.0, 1.0]
    assert load_checkpoint(extended / "checkpoints" / "last.pt")["config"]["schedule_epochs"] == 2


def test_a_first_epoch_non_finite_loss_says_no_checkpoint_was_written(tiny_dataset, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        Trainer.main(["--DR", str(tiny_dataset), "--save_root", str(tmp_path / "y"), *TINY_FLAGS,
                      "--num_epoch", "2", "--lr", "1e30"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "non-finite loss" in err and "no checkpoint was written" in err and "last.pt" not in err


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tiny_dataset, tmp_path, monkeypatch):
    real_loss = training.cvae_loss

    def loss_that_breaks_in_epoch_two(pred, target, mu, logvar, beta, kl_reduction):
        terms = real_loss(pred, target, mu, logvar, beta, kl_reduction)
        if torch.initial_seed() % 100_003 == 1:  # seed_epoch(seed, epoch=1)
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    monkeypatch.setattr(training, "cvae_loss", loss_that_breaks_in_epoch_two)
    with pytest.raises(UserInputError, match="non-finite loss .* in epoch 2: training stopped"):
        training.fit(config(tiny_dataset, tmp_path / "nan", "--num_epoch", "3", "--seed", "0"))
    assert load_checkpoint(tmp_path / "nan" / "checkpoints" / "last.pt")["epoch"] == 1
    assert len(read_metrics(tmp_path / "nan" / "metrics.csv")) == 1


def test_a_non_finite_validation_rollout_stops_the_run_and_keeps_the_last_good_checkpoint(
        tiny_dataset, tmp_path, monkeypatch, no_curves, capsys):
    real_validate = training.validate
    calls = []

    def nan_in_epoch_two(*args, **kwargs):
        calls.append(1)
        val = real_validate(*args, **kwargs)
        return {**val, "val_psnr": float("nan")} if len(calls) == 2 else val

    monkeypatch.setattr(training, "validate", nan_in_epoch_two)
    with pytest.raises(SystemExit) as exit_info:
        Trainer.main(["--DR", str(tiny_dataset), "--save_root", str(tmp_path / "nan"), *TINY_FLAGS, "--num_epoch", "3"])
    assert exit_info.value.code == 2
    assert "the validation rollout is not finite (val PSNR nan) in epoch 2: training stopped" in capsys.readouterr().err
    assert load_checkpoint(tmp_path / "nan" / "checkpoints" / "last.pt")["epoch"] == 1
    assert load_checkpoint(tmp_path / "nan" / "checkpoints" / "best.pt")["epoch"] == 1


def test_ctrl_c_writes_a_resumable_checkpoint(tiny_dataset, tmp_path, monkeypatch):
    real_epoch = training.train_one_epoch

    def interrupted_in_epoch_two(*args, **kwargs):
        if kwargs["desc"].startswith("epoch 2/"):
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(training, "train_one_epoch", interrupted_in_epoch_two)
    with pytest.raises(SystemExit) as exit_info:  # the CLI: 130, so `Trainer.py ... && Tester.py ...` stops
        Trainer.main(["--DR", str(tiny_dataset), "--save_root", str(tmp_path / "int"), *TINY_FLAGS,
                      "--num_epoch", "3"])
    assert exit_info.value.code == 130
    run = tmp_path / "int"
    path = run / "checkpoints" / "interrupted.pt"
    assert load_checkpoint(path)["epoch"] == 1
    monkeypatch.setattr(training, "train_one_epoch", real_epoch)
    training.fit(config(tiny_dataset, tmp_path / "int", "--num_epoch", "3", "--ckpt_path", str(path)))
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == [0, 1, 2]


def test_validate_only_needs_a_checkpoint(tiny_dataset, tmp_path):
    with pytest.raises(UserInputError, match="--test needs --ckpt_path"):
        training.validate_only(config(tiny_dataset, tmp_path, "--test"))


@pytest.mark.parametrize("flags, message", [
    (["--kl_anneal_type", "linear"], "invalid choice: 'linear'"),
    (["--partial", "1.5"], "must be in \\(0, 1\\]"),
    (["--optim", "SGD"], "invalid choice: 'SGD'"),
    (["--batch_size", "0"], "must be an integer >= 1"),
])
def test_bad_flag_values_are_rejected_by_argparse(flags, message, capsys):
    with pytest.raises(SystemExit):
        parse_train_args(flags)
    assert re.search(message, capsys.readouterr().err)


def test_device_falls_back_to_cpu_with_one_plain_line(capsys, monkeypatch, recwarn):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.resolve_device("cuda") == torch.device("cpu")
    captured = capsys.readouterr()
    assert captured.err == ("note: --device cuda (the default) but CUDA is not available here: running on the CPU\n")
    assert captured.out == "" and len(recwarn) == 0


def test_flags_a_run_cannot_use_are_named_not_silently_ignored(tiny_dataset, tmp_path, no_curves, capsys):
    run = training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "1"))
    last = run / "checkpoints" / "last.pt"
    training.fit(config(tiny_dataset, run, "--num_epoch", "2", "--ckpt_path", str(last), "--F_dim", "32",
                        "--lr", "0.0003"))
    out = capsys.readouterr().out
    assert "note: --F_dim 32 ignored: a checkpoint's network is fixed (--arch template --F_dim 16" in out
    assert "note: --lr 0.0003 ignored: resuming restores the checkpoint's optimiser and LR schedule" in out


def test_test_mode_prints_the_psnr_before_writing_its_gif(tiny_dataset, tmp_path, monkeypatch, capsys):
    from conftest import TINY_WIDTHS
    from modules.checkpoint import save_checkpoint
    from modules.vae import VAE_Model

    ckpt = tmp_path / "ro" / "best.pt"
    save_checkpoint(ckpt, {"model": VAE_Model(**TINY_WIDTHS).state_dict(), "epoch": 1, "config": dict(TINY_WIDTHS)})

    def read_only(*args, **kwargs):
        raise UserInputError("cannot write val_rollout_test.gif (Read-only file system): pass a writable folder")

    monkeypatch.setattr(training, "save_gif", read_only)
    with pytest.raises(UserInputError, match="Read-only"):
        training.validate_only(config(tiny_dataset, tmp_path / "ro", "--test", "--ckpt_path", str(ckpt)))
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("validation: PSNR")


def test_train_steps_sizes_the_run_by_the_dataset_and_says_so(tiny_dataset, tmp_path, no_curves, capsys):
    run = training.fit(config(tiny_dataset, tmp_path / "run", "--train_steps", "15", "--num_epoch", "70"))
    assert len(read_metrics(run / "metrics.csv")) == 3  # 12 clips, batch 2: 6 steps an epoch
    out = capsys.readouterr().out
    assert "per epoch (6 steps of batch 2), epochs 1..3" in out
    assert "--train_steps 15: 3 epochs of 6 steps (batch 2), validated every 1 epochs, a checkpoint every 2" in out
    half = config(tiny_dataset, tmp_path / "half", "--train_steps", "15", "--partial", "0.5")
    training.size_in_steps(half, 12)
    assert half.num_epoch == 5  # half the clips: as many steps in more epochs
    long_run = config(tiny_dataset, tmp_path / "long", "--train_steps", "6000")
    training.size_in_steps(long_run, 12)
    assert (long_run.num_epoch, long_run.val_every, long_run.per_save) == (1000, 50, 2)  # --per_save was given
    preset_steps = parse_train_args(["--preset", "lab4", "--num_epoch", "3"])
    assert training.size_in_steps(preset_steps, 12) is None and preset_steps.num_epoch == 3  # typed wins
