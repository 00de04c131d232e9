"""--tensorboard: every metrics.csv value, the rollout strip and the per-frame PSNR figure, read back with
tensorboard's own reader; a resume from an earlier checkpoint continues the curves without duplicated steps."""
import importlib.util

import pytest

import modules.train.loop as training
from modules.errors import UserInputError
from modules.train.runlog import COLUMNS, read_metrics
from modules.train.tensorboard import MISSING, NoLog, open_log, scalar_tag
from test_trainer import config


def events(run):
    module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    accumulator = module.EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    return accumulator.Reload()


def test_every_metric_image_and_figure_is_logged_and_a_resume_does_not_duplicate_steps(tiny_dataset, tmp_path):
    pytest.importorskip("tensorboard")
    run = training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "3", "--tensorboard"))
    first_seconds = read_metrics(run / "metrics.csv")[2]["seconds"]
    # A kill after epoch 3 was logged but before its last.pt was written: last.pt holds epoch 2, and the
    # resumed run logs epoch 3 again, which must replace the first log of it, not repeat it.
    (run / "checkpoints" / "last.pt").write_bytes((run / "checkpoints" / "epoch_002.pt").read_bytes())
    training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "4", "--tensorboard",
                        "--ckpt_path", str(run / "checkpoints" / "last.pt")))
    rows = read_metrics(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3] and rows[2]["seconds"] != first_seconds
    logged = events(run)
    assert set(logged.Tags()["scalars"]) == {scalar_tag(c) for c in COLUMNS if c != "epoch"}
    assert {"psnr/val_psnr", "psnr/val_moving_psnr", "psnr/copy_psnr", "loss/train_loss", "beta/beta", "tfr/tfr",
            "run/lr"} <= set(logged.Tags()["scalars"])
    for column in COLUMNS[1:]:
        scalars = logged.Scalars(scalar_tag(column))
        assert [s.step for s in scalars] == [0, 1, 2, 3], column
        assert [s.value for s in scalars] == pytest.approx([r[column] for r in rows], rel=1e-5), column
    strips = logged.Images("val/rollout")
    assert [i.step for i in strips] == [0, 1, 2, 3]
    # 6 frames of (ground truth | prediction | pose) at 32x64, enlarged 2x: 6*32*2 high, 3*64*2 wide.
    assert (strips[0].height, strips[0].width) == (6 * 32 * 2, 3 * 64 * 2)
    assert [i.step for i in logged.Images("val/per_frame_psnr")] == [0, 1, 2, 3]


def test_missing_tensorboard_stops_before_anything_is_generated_or_written(tiny_dataset, tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real_find_spec(name, *a))
    with pytest.raises(UserInputError) as err:
        training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "1", "--tensorboard"))
    assert str(err.value) == MISSING and "pip install tensorboard" in MISSING
    assert not (tmp_path / "run").exists()


def test_only_the_main_process_writes(tiny_dataset, tmp_path):
    cfg = config(tiny_dataset, tmp_path / "run", "--tensorboard")
    assert isinstance(open_log(cfg, tmp_path / "tb", 0, main=False), NoLog)
    assert isinstance(open_log(config(tiny_dataset, tmp_path / "run"), tmp_path / "tb", 0, main=True), NoLog)
    assert not (tmp_path / "tb").exists()


def test_a_broken_tensorboard_install_stops_before_anything_is_written(tiny_dataset, tmp_path, monkeypatch):
    import sys
    import types

    pytest.importorskip("tensorboard")
    broken = types.ModuleType("torch.utils.tensorboard")

    def fail(name):
        raise TypeError("Descriptors cannot be created directly. (simulated protobuf mismatch)")

    broken.__getattr__ = fail
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", broken)
    with pytest.raises(UserInputError, match="tensorboard package fails to import .TypeError: Descriptors cannot"):
        training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "1", "--tensorboard"))
    assert not (tmp_path / "run").exists()


def test_a_file_where_the_logs_go_is_named(tiny_dataset, tmp_path):
    (tmp_path / "tb").write_text("")
    cfg = config(tiny_dataset, tmp_path / "run", "--tensorboard")
    with pytest.raises(UserInputError, match="tb is a file, where --tensorboard writes its logs"):
        open_log(cfg, tmp_path / "tb", 0, main=True)
