"""Resuming keeps the run's recipe: ``--ckpt_path`` alone goes on exactly as the run would have."""
import pytest

import modules.train.loop as training
import Trainer
from conftest import TINY_WIDTH_FLAGS
from modules.checkpoint import load_checkpoint
from modules.config import PRESETS, parse_train_args, resume_recipe
from modules.train.runlog import read_metrics
from test_trainer import no_curves, without_time  # noqa: F401 (a fixture)

# Every preset, shrunk to the tiny dataset (explicit flags win over a preset's values).
SHRINK = [*TINY_WIDTH_FLAGS, "--train_vi_len", "4", "--val_vi_len", "20", "--batch_size", "2", "--num_epoch", "3",
          "--seed", "2"]


def interrupt_at_epoch(monkeypatch, epoch):
    """Ctrl-C as training's epoch ``epoch`` (0-based) begins: its weights are the previous epoch's."""
    train = training.train_one_epoch

    def train_or_stop(*args, desc, **kwargs):
        if desc.startswith(f"epoch {epoch + 1}/"):
            raise KeyboardInterrupt
        return train(*args, desc=desc, **kwargs)

    monkeypatch.setattr(training, "train_one_epoch", train_or_stop)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_an_interrupted_preset_run_resumed_with_ckpt_path_alone_equals_the_uninterrupted_one(
        preset, tiny_dataset, tmp_path, monkeypatch, no_curves, capsys):
    start = ["--preset", preset, "--DR", str(tiny_dataset), "--device", "cpu", *SHRINK]
    Trainer.main([*start, "--save_root", str(tmp_path / "straight")])
    with monkeypatch.context() as patch:
        interrupt_at_epoch(patch, 1)
        with pytest.raises(SystemExit) as stopped:
            Trainer.main([*start, "--save_root", str(tmp_path / "split")])
    assert stopped.value.code == 130
    interrupted = tmp_path / "split" / "checkpoints" / "interrupted.pt"
    capsys.readouterr()
    Trainer.main(["--ckpt_path", str(interrupted), "--device", "cpu"])
    out = capsys.readouterr().out
    assert "note:" not in out and "epochs 2..3" in out
    assert (without_time(read_metrics(tmp_path / "split" / "metrics.csv"))
            == without_time(read_metrics(tmp_path / "straight" / "metrics.csv")))
    assert load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["config"]["preset"] == preset


def test_a_given_flag_changes_the_run_and_is_named_even_at_its_default(no_curves):
    run = vars(parse_train_args(["--preset", "cpu_pyramid", "--num_epoch", "6"]))
    resumed = parse_train_args(["--ckpt_path", "x.pt", "--num_epoch", "8", "--arch", "template",
                                "--batch_size", "4", "--device", "cpu"])
    changed = resume_recipe(resumed, run)
    assert changed == ["--batch_size 4 (the run: 2)", "--num_epoch 8 (the run: 6)"]  # --arch: a network note
    assert resumed.num_epoch == 8 and resumed.batch_size == 4  # given: kept
    assert resumed.lr_schedule == "cosine" and resumed.kl_reduction == "mean" and resumed.tfr == 0.0  # the run's
    assert resumed.device == "cpu" and resumed.ckpt_path == "x.pt"  # where it runs: this command's


def test_an_explicit_network_flag_equal_to_its_default_is_named_on_resume(tiny_dataset, tmp_path, no_curves, capsys):
    root = tmp_path / "run"
    Trainer.main(["--preset", "cpu_pyramid", "--DR", str(tiny_dataset), "--device", "cpu", *SHRINK,
                  "--num_epoch", "1", "--save_root", str(root)])
    capsys.readouterr()
    Trainer.main(["--ckpt_path", str(root / "checkpoints" / "last.pt"), "--device", "cpu", "--arch", "template",
                  "--lr", "0.001", "--num_epoch", "2"])
    out = capsys.readouterr().out
    assert "note: --arch template ignored: a checkpoint's network is fixed (--arch pyramid" in out
    assert "note: --lr 0.001 ignored: resuming restores the checkpoint's optimiser" in out
    assert load_checkpoint(root / "checkpoints" / "last.pt")["config"]["lr"] == 2e-3
