"""PyramidVAE (--arch pyramid): shapes, the composite output, its paths agree, and the factory."""
import pytest
import torch

from modules.architectures import build_vae
from modules.config import parse_train_args
from modules.errors import UserInputError
from modules.pyramid import PyramidVAE
from modules.vae import LOGIT_EPS, VAE_Model

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


def test_untrained_model_copies_the_first_frame():
    frames, poses = video()
    with torch.no_grad():
        out = PyramidVAE(**WIDTHS).eval().rollout(frames[:, 0], poses)
    expected = frames[:, :1].clamp(LOGIT_EPS, 1 - LOGIT_EPS).expand(-1, 4, -1, -1, -1)
    torch.testing.assert_close(out[:, 1:], expected)


@pytest.mark.parametrize("head,attention", [("anchored", False), ("anchored", True), ("composite", False)],
                         ids=["", "attention", "composite"])
@pytest.mark.parametrize("teacher_forcing", [True, False], ids=["forced (batched)", "free-running"])
def test_training_pass_equals_decoding_step_by_step(teacher_forcing, head, attention):
    model = trained_like(PyramidVAE(**WIDTHS, anchor_attention=attention, output_head=head))
    frames, poses = video()
    eps = torch.randn(2, 4, 4, 8, 16)
    pred, mu, logvar, parts = model(frames, poses, teacher_forcing=teacher_forcing, eps=eps, with_parts=True)
    anchor = model.anchor(frames[:, 0], poses[:, 0])
    z = mu + torch.exp(0.5 * logvar) * eps
    frame = frames[:, 0]
    for t in range(4):
        prev = frames[:, t] if teacher_forcing else frame  # free-running: its own previous frame
        frame, step_parts = model.decode(model.encode(model.frame_transformation, prev),
                                         model.encode(model.label_transformation, poses[:, t + 1]), z[:, t], anchor,
                                         frames[:, 0])
        torch.testing.assert_close(pred[:, t], frame, rtol=1e-5, atol=1e-6)
        assert step_parts.keys() == parts.keys()
        for key, value in step_parts.items():
            torch.testing.assert_close(parts[key][:, t], value, rtol=1e-5, atol=1e-5)


def test_rollout_equals_repeated_decoding_and_uses_the_first_pose():
    model = trained_like(PyramidVAE(**WIDTHS, anchor_attention=True)).eval()
    frames, poses = video(length=4)
    with torch.no_grad():
        out = model.rollout(frames[:, 0], poses, z_mode="zero")
        anchor = model.anchor(frames[:, 0], poses[:, 0])
        frame = frames[:, 0]
        for t in range(1, 4):
            z = torch.zeros(2, 4, 8, 16)
            frame, _ = model.decode(model.encode(model.frame_transformation, frame),
                                    model.encode(model.label_transformation, poses[:, t]), z, anchor, frames[:, 0])
            torch.testing.assert_close(out[:, t], frame)
        other = poses.clone()
        other[:, 0] = 0
        assert not torch.allclose(model.rollout(frames[:, 0], other, z_mode="zero"), out)


def test_frame_size_must_be_divisible_by_four():
    with pytest.raises(ValueError, match="divisible by 4, got 30x64"):
        PyramidVAE(**WIDTHS).eval().rollout(torch.rand(1, 3, 30, 64), torch.rand(1, 3, 3, 30, 64))


def test_build_vae_picks_the_architecture_and_refuses_template_only_flags():
    assert type(build_vae(parse_train_args([]))) is VAE_Model
    assert type(build_vae(parse_train_args(["--preset", "cpu_pyramid"]))) is PyramidVAE
    with pytest.raises(UserInputError, match="--output_mode anchored: only for --arch template"):
        build_vae(parse_train_args(["--arch", "pyramid", "--output_mode", "anchored"]))
    plain = build_vae(parse_train_args(["--preset", "cpu_pyramid", "--no-anchor_mean"]))
    assert plain.Decoder_Fusion.attention is None and not plain.Decoder_Fusion.anchor_mean
    assert build_vae(parse_train_args(["--arch", "pyramid", "--anchor_attention"])).Decoder_Fusion.attention
    names = {name.split(".")[0] for name in PyramidVAE(**WIDTHS).state_dict()}
    assert names == {"frame_transformation", "label_transformation", "Gaussian_Predictor", "Decoder_Fusion",
                     "Generator"}  # the template's five networks, by name


@pytest.mark.parametrize("head", ["anchored", "composite"])
def test_prev_input_first_decodes_every_frame_from_frame_0(head):
    """--prev_input first: the training pass (either teacher-forcing mode) and the rollout, over more
    than one chunk of poses, equal one decode per step with frame 0 as the previous frame."""
    model = trained_like(PyramidVAE(**WIDTHS, output_head=head, prev_input="first")).eval()
    frames, poses = video(batch=2, length=70)
    eps = torch.randn(2, 4, 4, 8, 16)
    with torch.no_grad():
        anchor = model.anchor(frames[:, 0], poses[:, 0])

        def step(t, z):
            return model.decode(anchor[0], model.encode(model.label_transformation, poses[:, t]), z, anchor,
                                frames[:, 0])[0]

        for forcing in (True, False):
            pred, mu, logvar = model(frames[:, :5], poses[:, :5], teacher_forcing=forcing, eps=eps)
            z = mu + torch.exp(0.5 * logvar) * eps
            for t in range(4):
                torch.testing.assert_close(pred[:, t], step(t + 1, z[:, t]), rtol=1e-5, atol=1e-6)
        out = model.rollout(frames[:, 0], poses, z_mode="zero")
        for t in (1, 2, 64, 65, 69):  # POSE_CHUNK = 64: both sides of a chunk's end
            torch.testing.assert_close(out[:, t], step(t, torch.zeros(2, 4, 8, 16)))
        changed = poses.clone()
        changed[:, 10] = 0  # frame 11 does not see frame 10
        torch.testing.assert_close(model.rollout(frames[:, 0], changed, z_mode="zero")[:, 11], out[:, 11])


def test_prev_input_is_checked():
    with pytest.raises(ValueError, match="prev_input must be one of"):
        PyramidVAE(**WIDTHS, prev_input="last")
    with pytest.raises(UserInputError, match="--prev_input first: only for --arch pyramid"):
        build_vae({"arch": "template", "prev_input": "first"})
    assert build_vae(parse_train_args(["--preset", "cpu_pyramid", "--prev_input", "first"])).prev_input == "first"


@pytest.mark.parametrize("head,prev_input", [("anchored", "previous"), ("composite", "first")])
def test_channels_last_model_computes_what_the_nchw_model_does(head, prev_input):
    """Trainer.py converts the model to channels_last on the CPU; the concatenations then follow it."""
    model = trained_like(PyramidVAE(**WIDTHS, output_head=head, prev_input=prev_input))
    converted = trained_like(PyramidVAE(**WIDTHS, output_head=head, prev_input=prev_input)).to(
        memory_format=torch.channels_last)
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
