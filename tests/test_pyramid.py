"""PyramidVAE (--arch pyramid): shapes, its start, frame-0 decoding in training and rollouts, the factory."""
import math

import pytest
import torch

from modules.architectures import build_vae, model_config
from modules.composite import COPY_BIAS
from modules.config import parse_train_args
from modules.errors import UserInputError
from modules.pyramid import PyramidConfig, PyramidVAE
from modules.vae import VAE_Model

WIDTHS = dict(F_dim=16, L_dim=8, N_dim=4, D_out_dim=16)


def video(batch=2, length=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, length, 3, 32, 64, generator=g), torch.rand(batch, length, 3, 32, 64, generator=g)


def trained_like(model, seed=1):
    """Random weights everywhere (the zeroed head and residual branches would hide the wiring)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return model


def test_forward_and_rollout_shapes_and_range():
    model = PyramidVAE(**WIDTHS)
    frames, poses = video()
    pred, mu, logvar = model(frames, poses, teacher_forcing=False)
    assert pred.shape == (2, 4, 3, 32, 64)
    assert mu.shape == logvar.shape == (2, 4, 4, 8, 16)  # the latent lives at 1/4 resolution
    with torch.no_grad():
        out = model.eval().rollout(frames[:, 0], poses)
    assert out.shape == frames.shape and torch.equal(out[:, 0], frames[:, 0])
    assert 0 <= float(out.min()) and float(out.max()) <= 1


def test_untrained_model_is_close_to_the_first_frame():
    """The head starts as a fixed mix of frame 0, its identity warp and a grey scratch (test_composite)."""
    frames, poses = video()
    with torch.no_grad():
        out = PyramidVAE(**WIDTHS).eval().rollout(frames[:, 0], poses)
    copy = math.exp(COPY_BIAS) / (2 * math.exp(COPY_BIAS) + 1)
    expected = 2 * copy * frames[:, :1] + (1 - 2 * copy) * 0.5
    torch.testing.assert_close(out[:, 1:], expected.expand(-1, 4, -1, -1, -1))


def test_frame_size_must_be_divisible_by_four():
    with pytest.raises(ValueError, match="divisible by 4, got 30x64"):
        PyramidVAE(**WIDTHS).eval().rollout(torch.rand(1, 3, 30, 64), torch.rand(1, 3, 3, 30, 64))


def build(argv):
    return build_vae(model_config(vars(parse_train_args(argv))))


def test_build_vae_picks_the_architecture_and_refuses_template_only_flags():
    assert type(build([])) is VAE_Model
    model = build(["--preset", "cpu_pyramid"])
    assert type(model) is PyramidVAE and model.config == PyramidConfig(64, 32, 8, 96)
    with pytest.raises(UserInputError, match="--output_mode anchored: only for --arch template"):
        build(["--arch", "pyramid", "--output_mode", "anchored"])
    names = {name.split(".")[0] for name in PyramidVAE(**WIDTHS).state_dict()}
    assert names == {"frame_transformation", "label_transformation", "Gaussian_Predictor", "Decoder_Fusion",
                     "Generator"}  # the template's five networks, by name


def test_every_frame_is_decoded_from_frame_0():
    """The training pass (teacher forcing changes nothing) and the rollout, over more than one chunk of
    poses, equal one decode per step from frame 0, pose 0 and pose t; the parts come along."""
    model = trained_like(PyramidVAE(**WIDTHS)).eval()
    frames, poses = video(batch=2, length=70)
    eps = torch.randn(2, 4, 4, 8, 16)
    with torch.no_grad():
        anchor = model.anchor(frames[:, 0], poses[:, 0])

        def step(t, z):
            return model.decode(model.encode(model.label_transformation, poses[:, t]), z, anchor, frames[:, 0])

        for forcing in (True, False):
            pred, mu, logvar, parts = model(frames[:, :5], poses[:, :5], teacher_forcing=forcing, eps=eps,
                                            with_parts=True)
            z = mu + torch.exp(0.5 * logvar) * eps
            for t in range(4):
                frame, step_parts = step(t + 1, z[:, t])
                torch.testing.assert_close(pred[:, t], frame, rtol=1e-5, atol=1e-6)
                for key, value in step_parts.items():
                    torch.testing.assert_close(parts[key][:, t], value, rtol=1e-5, atol=1e-5)
        out = model.rollout(frames[:, 0], poses, z_mode="zero")
        for t in (1, 2, 64, 65, 69):  # POSE_CHUNK = 64: both sides of a chunk's end
            torch.testing.assert_close(out[:, t], step(t, torch.zeros(2, 4, 8, 16))[0])
        changed = poses.clone()
        changed[:, 10] = 0  # frame 11 does not see frame 10
        torch.testing.assert_close(model.rollout(frames[:, 0], changed, z_mode="zero")[:, 11], out[:, 11])
        changed[:, 0] = 0  # every frame sees pose 0
        assert not torch.allclose(model.rollout(frames[:, 0], changed, z_mode="zero")[:, 11], out[:, 11])


def test_channels_last_model_computes_what_the_nchw_model_does():
    """Trainer.py converts the model to channels_last on the CPU; the concatenations then follow it."""
    model = trained_like(PyramidVAE(**WIDTHS))
    converted = trained_like(PyramidVAE(**WIDTHS)).to(memory_format=torch.channels_last)
    frames, poses = video(length=4)
    eps = torch.randn(2, 3, 4, 8, 16)
    losses = []
    for net in (model, converted):
        pred, mu, logvar = net(frames, poses, teacher_forcing=False, eps=eps)
        loss = (pred - frames[:, 1:]).pow(2).mean() + mu.pow(2).mean()
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[0], losses[1])
    for p, q in zip(model.parameters(), converted.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(model.eval().rollout(frames[:, 0], poses, z_mode="zero"),
                                   converted.eval().rollout(frames[:, 0], poses, z_mode="zero"), rtol=1e-4, atol=1e-4)
