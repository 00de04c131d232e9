"""--ema_decay: the weight average's formula, what a checkpoint holds, exact resume."""
import pytest
import torch
from torch import nn

import modules.train.loop as training
from conftest import TINY_WIDTH_FLAGS
from modules.architectures import build_vae, checkpoint_model_config
from modules.checkpoint import load_checkpoint
from modules.config import parse_train_args
from modules.data.datasets import load_val_video
from modules.train.ema import WeightAverage, ema_decay_at
from modules.train.runlog import read_metrics

FLAGS = [*TINY_WIDTH_FLAGS, "--device", "cpu", "--num_workers", "0", "--train_vi_len", "4", "--val_vi_len", "20",
         "--batch_size", "2", "--seed", "1", "--ema_decay", "0.9", "--milestones"]


def config(dataset, save_root, *flags):
    return parse_train_args(["--DR", str(dataset), "--save_root", str(save_root), *FLAGS, *flags])


def test_the_decay_warms_up_then_stays():
    assert [ema_decay_at(0.9, n) for n in (0, 1, 80, 1000)] == [pytest.approx(0.1), pytest.approx(2 / 11), 0.9, 0.9]


def test_the_average_moves_toward_the_weights_by_one_minus_the_decay():
    model = nn.Linear(1, 1, bias=False)
    nn.init.constant_(model.weight, 0.0)
    average = WeightAverage(model, 0.5)
    expected = 0.0
    for step, value in enumerate([1.0, 3.0, -2.0, 5.0]):
        nn.init.constant_(model.weight, value)
        average.update(model)
        decay = min(0.5, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * value
        assert average.model.weight.item() == pytest.approx(expected)
    assert average.updates == 4 and model.weight.item() == 5.0  # the trained weights untouched
    assert not average.model.weight.requires_grad
    with pytest.raises(ValueError, match=r"--ema_decay must be in \[0, 1\), got 1"):
        WeightAverage(model, 1)


def test_the_checkpoint_holds_the_average_as_its_model_and_it_is_what_was_validated(tiny_dataset, tmp_path):
    run = training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "2"))
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    rows = read_metrics(run / "metrics.csv")
    assert ckpt["ema"]["updates"] == 2 * (2 * 24 // 4) // 2  # an update a step: 2 epochs of 12 clips at batch 2
    assert any(not torch.equal(ckpt["model"][k], ckpt["train_model"][k]) for k in ckpt["model"])
    frames, poses = load_val_video(tiny_dataset, (32, 64), 20)

    def val_psnr(weights):
        model = build_vae(checkpoint_model_config(ckpt, "last.pt", {}))
        model.load_state_dict(weights)
        return training.validate(model.eval(), frames, poses, seed=1)["val_psnr"]
    # (to rounding: the run's model was channels_last)
    averaged, trained = val_psnr(ckpt["model"]), val_psnr(ckpt["train_model"])
    assert averaged == pytest.approx(rows[-1]["val_psnr"], abs=0.01)
    assert abs(trained - rows[-1]["val_psnr"]) > 0.1


def test_resume_continues_the_average_exactly(tiny_dataset, tmp_path):
    straight = training.fit(config(tiny_dataset, tmp_path / "straight", "--num_epoch", "3"))
    split = training.fit(config(tiny_dataset, tmp_path / "split", "--num_epoch", "1"))
    training.fit(config(tiny_dataset, tmp_path / "split", "--num_epoch", "3",
                        "--ckpt_path", str(split / "checkpoints" / "last.pt")))
    a, b = (load_checkpoint(r / "checkpoints" / "last.pt") for r in (straight, split))
    for key in ("model", "train_model"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), (key, name)
    assert a["ema"] == b["ema"]
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in read_metrics(split / "metrics.csv")]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in read_metrics(straight / "metrics.csv")]
