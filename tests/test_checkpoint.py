"""Checkpoints: atomic round trip, the course template's format, readable errors, refused pickles."""
import io
import os
import pickle
import re

import numpy as np
import pytest
import torch

import convert_checkpoint
from conftest import TINY_WIDTHS
from modules.checkpoint import load_checkpoint, load_model_weights, save_checkpoint
from modules.errors import UserInputError
from modules.vae import VAE_Model



def test_round_trip_keeps_every_tensor_and_leaves_no_temp_file(tmp_path):
    model = VAE_Model(**TINY_WIDTHS)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.rand(1, 3, 3, 8, 8), torch.rand(1, 3, 3, 8, 8), True)[0].sum().backward()
    optimizer.step()
    path = tmp_path / "ckpt" / "last.pt"
    save_checkpoint(path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3,
                           "best_psnr": 21.5, "config": {"F_dim": 16, "milestones": [2, 5]}})
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]
    ckpt = load_checkpoint(path)
    assert ckpt["epoch"] == 3 and ckpt["best_psnr"] == 21.5 and ckpt["config"]["milestones"] == [2, 5]
    restored = VAE_Model(**TINY_WIDTHS)
    load_model_weights(restored, ckpt["model"])
    for key, value in model.state_dict().items():
        assert torch.equal(restored.state_dict()[key], value)
    fresh_optimizer = torch.optim.Adam(restored.parameters())
    fresh_optimizer.load_state_dict(ckpt["optimizer"])
    assert fresh_optimizer.state_dict()["state"][0]["step"] == 1


def test_template_format_checkpoint_loads_strictly_and_gives_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    template_model = VAE_Model().eval()
    path = tmp_path / "epoch=5.ckpt"
    torch.save({"state_dict": template_model.state_dict(), "optimizer": template_model.state_dict(),
                "lr": 1e-5, "tfr": 0.5, "last_epoch": 5}, path)
    ckpt = load_checkpoint(path)
    assert ckpt["template"] and ckpt["epoch"] == 5
    model = VAE_Model().eval()
    load_model_weights(model, ckpt["model"], path)
    first, poses = torch.rand(1, 3, 32, 64), torch.rand(1, 3, 3, 32, 64)
    torch.testing.assert_close(model.rollout(first, poses, z_mode="zero"),
                               template_model.rollout(first, poses, z_mode="zero"))


def test_missing_and_corrupt_checkpoints_are_named(tmp_path):
    with pytest.raises(UserInputError, match="nope.pt does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x02not a checkpoint")
    with pytest.raises(UserInputError, match="bad.pt could not be read, it is truncated or corrupt"):
        load_checkpoint(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(1)}, foreign)
    with pytest.raises(UserInputError, match="neither this repo's format nor the course template's"):
        load_checkpoint(foreign)


def test_wrong_architecture_lists_mismatched_keys_and_the_flags_to_fix(tmp_path):
    with pytest.raises(UserInputError) as err:
        load_model_weights(VAE_Model(**TINY_WIDTHS), VAE_Model().state_dict(), "big.pt")
    message = str(err.value)
    assert "big.pt does not fit" in message
    assert "Decoder_Fusion.0.block.0.conv1.0.bias: checkpoint (172,) vs model (28,)" in message
    assert "--F_dim 128 --L_dim 32 --N_dim 12 --D_out_dim 192" in message


def test_ddp_and_compile_prefixes_are_stripped():
    model = VAE_Model(**TINY_WIDTHS)
    prefixed = {f"module.{k}": v for k, v in model.state_dict().items()}
    load_model_weights(VAE_Model(**TINY_WIDTHS), prefixed)


class Trainer:
    """Stands for an object a template script pickled along with its weights (e.g. ``self``)."""

    def __init__(self):
        self.lr = 1e-3


def refusal(path):
    with pytest.raises(UserInputError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "weights_only=False" not in message and "weights_only` set to `False" not in message
    return message


def test_a_pickle_with_python_objects_is_refused_with_the_conversion_command(tmp_path):
    path = tmp_path / "epoch=5.ckpt"
    torch.save({"state_dict": VAE_Model(**TINY_WIDTHS).state_dict(), "trainer": Trainer()}, path)
    message = refusal(path)
    assert message.startswith(f"{path}: not a tensors-only checkpoint: refused for safety")
    assert "test_checkpoint.Trainer" in message and "could run arbitrary code" in message
    assert f"python convert_checkpoint.py {path} {tmp_path / 'epoch=5.safe.pt'}" in message


class RunsACommand:
    """A malicious checkpoint's payload: unpickling it runs ``command`` through os.system."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.mark.parametrize("save", [torch.save, lambda obj, path: path.write_bytes(pickle.dumps(obj, protocol=2))],
                         ids=["torch.save", "plain pickle"])
def test_a_checkpoint_that_would_run_a_command_is_refused_as_unsafe_and_runs_nothing(tmp_path, save):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    save({"model": {}, "payload": RunsACommand(f"touch {marker}")}, path)
    message = refusal(path)
    assert message.startswith(f"{path}: not a tensors-only checkpoint: refused for safety (it holds a pickled "
                              f"Python object ({os.system.__module__}.system)")  # torch: "... GLOBAL posix.system whose module posix is blocked"
    assert "convert it only if you trust its source" in message and "python convert_checkpoint.py" in message
    assert "truncated or corrupt" not in message and not marker.exists()


def test_a_truncated_or_garbled_checkpoint_is_still_called_truncated_or_corrupt(tmp_path):
    path = tmp_path / "cut.pt"
    path.write_bytes(_zip_bytes()[:300])
    assert "could not be read, it is truncated or corrupt" in refusal(path)
    path.write_bytes(b"\x80\x02not a checkpoint")  # torch: "Weights only load failed ... Unsupported operand 110"
    assert "it is truncated or corrupt (Unsupported operand 110); nothing was loaded" in refusal(path)


def test_a_text_file_is_named_as_one(tmp_path):
    path = tmp_path / "best.pt"
    path.write_text("epoch 3, val PSNR 25.1\n")
    assert refusal(path) == (f"checkpoint {path} is a text file (it starts with 'epoch 3, val PSNR 25.1'), "
                             "not a PyTorch checkpoint; nothing was loaded")
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\n")
    assert "a Git LFS pointer: fetch the real file with git lfs pull" in refusal(path)


def test_convert_checkpoint_makes_a_trusted_template_checkpoint_load(tmp_path, capsys):
    model = VAE_Model(**TINY_WIDTHS)
    src = tmp_path / "epoch=5.ckpt"
    torch.save({"state_dict": model.state_dict(), "optimizer": model.state_dict(), "lr": np.float64(1e-5),
                "tfr": np.float32(0.5), "last_epoch": 5, "trainer": Trainer()}, src)
    convert_checkpoint.main([str(src)])
    assert "left out (not a tensor, number or string): checkpoint['trainer'] (test_checkpoint.Trainer)" \
        in capsys.readouterr().out
    ckpt = load_checkpoint(tmp_path / "epoch=5.safe.pt")
    assert ckpt["template"] and ckpt["epoch"] == 5
    load_model_weights(VAE_Model(**TINY_WIDTHS), ckpt["model"])
    whole_module = tmp_path / "model.pt"
    torch.save(model, whole_module)
    refusal(whole_module)
    convert_checkpoint.main([str(whole_module), str(tmp_path / "weights.pt")])
    load_model_weights(VAE_Model(**TINY_WIDTHS), load_checkpoint(tmp_path / "weights.pt")["model"])


@pytest.mark.parametrize("make, args, message", [
    (lambda d: d.mkdir(), lambda p: [p], "is a folder, not a file"),
    (lambda p: torch.save({"state_dict": {}}, p), lambda p: [p, p], "is the file to convert: write the copy"),
    (lambda p: p.write_bytes(_zip_bytes()[:200]), lambda p: [p], "could not be read, it is truncated or corrupt"),
    (lambda p: p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\n"), lambda p: [p],
     "a text file .* .a Git LFS pointer"),
    (lambda p: p.write_bytes(b""), lambda p: [p], "an empty file"),
    (lambda p: torch.save({"foo": np.float64(1)}, p), lambda p: [p], "neither this repo's checkpoint format"),
])
def test_convert_checkpoint_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, make, args, message):
    src = tmp_path / "in.ckpt"
    make(src)
    before = sorted(tmp_path.iterdir())
    content = src.read_bytes() if src.is_file() else None
    with pytest.raises(SystemExit) as exit_info:
        convert_checkpoint.main([str(a) for a in args(src)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and re.search(message, err) and "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before and (content is None or src.read_bytes() == content)


def _zip_bytes():
    buffer = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, buffer)
    return buffer.getvalue()


PYRAMID_WIDTHS = dict(F_dim=16, L_dim=8, N_dim=4, D_out_dim=16)


@pytest.mark.parametrize("weights, model, from_flags, advice", [
    ("pyramid", "template", True, "holds --arch pyramid weights, the model is --arch template: pass --arch pyramid"),
    ("template", "pyramid", True, "holds --arch template weights, the model is --arch pyramid: pass --arch template"),
    ("template", "pyramid", False, "holds --arch template weights but its stored config says --arch pyramid: the "
                                   "file is inconsistent"),
    ("big_template", "template", False, "its stored config does not match its weights .widths --F_dim 128"),
])
def test_a_mismatch_names_the_arch_first_and_only_flags_that_would_work(weights, model, from_flags, advice):
    from modules.pyramid import PyramidVAE

    build = {"pyramid": lambda: PyramidVAE(**PYRAMID_WIDTHS), "template": lambda: VAE_Model(**TINY_WIDTHS),
             "big_template": lambda: VAE_Model()}
    with pytest.raises(UserInputError) as err:
        load_model_weights(build[model](), build[weights]().state_dict(), "x.pt", from_flags=from_flags)
    assert re.search(advice, str(err.value)), str(err.value)
    assert from_flags or "pass these flags" not in str(err.value)
