"""The networks: template compatibility, shapes, the two output modes and initialisations."""
from pathlib import Path

import pytest
import torch

import modules.vae
from conftest import TINY_WIDTHS
from modules.layers import scaled_init_
from modules.vae import VAE_Model

TEMPLATE_KEYS = Path(__file__).parent / "data" / "template_state_dict.txt"


def read_template_state_dict():
    entries = {}
    for line in TEMPLATE_KEYS.read_text().splitlines():
        if line and not line.startswith("#"):
            key, dtype, shape = line.split(" ", 2)
            entries[key] = (dtype, shape)
    return entries


def describe(state_dict):
    return {k: (str(v.dtype).removeprefix("torch."), str(tuple(v.shape))) for k, v in state_dict.items()}


def test_state_dict_matches_the_course_template_exactly():
    model = VAE_Model()
    assert describe(model.state_dict()) == read_template_state_dict()
    assert len(model.state_dict()) == 209
    assert sum(p.numel() for p in model.parameters()) == 1_585_620


@pytest.mark.parametrize("options", [dict(), dict(fix_leaky_relu=True, output_mode="anchored")])
def test_options_keep_the_state_dict_layout(options):
    assert describe(VAE_Model(**options).state_dict()) == describe(VAE_Model().state_dict())


def test_template_leaky_relu_is_the_identity_and_the_flag_fixes_it():
    template = VAE_Model(**TINY_WIDTHS)
    fixed = VAE_Model(**TINY_WIDTHS, fix_leaky_relu=True)
    slopes = lambda m: [a.negative_slope for a in (m.label_transformation[3], m.Gaussian_Predictor[5])]
    assert slopes(template) == [1.0, 1.0]
    assert slopes(fixed) == [0.01, 0.01]
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(template.label_transformation[3](x.clone()), x)  # in place: on a copy


def test_eval_really_switches_batchnorm_to_eval_mode():
    model = VAE_Model(**TINY_WIDTHS)
    model.eval()
    assert all(not m.training for m in model.modules())
    bn = model.label_transformation[2]
    before = bn.running_mean.clone()
    model.rollout(torch.rand(1, 3, 8, 16), torch.rand(1, 3, 3, 8, 16))
    assert torch.equal(bn.running_mean, before)


def test_step_and_rollout_shapes_and_range():
    model = VAE_Model(**TINY_WIDTHS).eval()
    prev, pose, target = torch.rand(3, 3, 8, 16), torch.rand(3, 3, 8, 16), torch.rand(3, 3, 8, 16)
    frame, mu, logvar = model.step(prev, pose, target=target)
    assert frame.shape == (3, 3, 8, 16) and mu.shape == logvar.shape == (3, 4, 8, 16)
    assert frame.min() >= 0 and frame.max() <= 1
    frame, mu, logvar = model.step(prev, pose)
    assert mu is None and logvar is None
    video = model.rollout(prev, torch.rand(3, 5, 3, 8, 16))
    assert video.shape == (3, 5, 3, 8, 16)
    assert torch.equal(video[:, 0], prev)


def test_rollout_z_modes():
    model = VAE_Model(**TINY_WIDTHS).eval()
    first, poses = torch.rand(1, 3, 8, 16), torch.rand(1, 4, 3, 8, 16)
    zero_a = model.rollout(first, poses, z_mode="zero")
    zero_b = model.rollout(first, poses, z_mode="zero")
    assert torch.equal(zero_a, zero_b)
    g = lambda: torch.Generator().manual_seed(3)
    assert torch.equal(model.rollout(first, poses, generator=g()), model.rollout(first, poses, generator=g()))
    assert not torch.equal(model.rollout(first, poses, generator=g()), zero_a)
    with pytest.raises(ValueError, match="z_mode"):
        model.rollout(first, poses, z_mode="posterior")


@pytest.mark.parametrize("pose_chunk", [64, 2])
def test_rollout_equals_repeated_steps(pose_chunk, monkeypatch):
    """Also across pose-encoding chunks (the rollout encodes POSE_CHUNK steps of poses at a time)."""
    monkeypatch.setattr(modules.vae, "POSE_CHUNK", pose_chunk)
    torch.manual_seed(0)
    model = VAE_Model(**TINY_WIDTHS).eval()
    first, poses = torch.rand(2, 3, 8, 16), torch.rand(2, 6, 3, 8, 16)
    video = model.rollout(first, poses, z_mode="zero")
    frame = first
    for t in range(1, 6):
        frame, _, _ = model.step(frame, poses[:, t], z=torch.zeros(2, 4, 8, 16))
        torch.testing.assert_close(video[:, t], frame)


def test_anchored_output_inits_convs_by_fan_in_with_residual_branches_zeroed():
    torch.manual_seed(0)
    model = VAE_Model(output_mode="anchored")
    branch_ends = [m.last_branch_conv for m in model.modules() if hasattr(m, "last_branch_conv")]
    assert len(branch_ends) > 20 and all(not conv.weight.any() for conv in branch_ends)
    decoder_in = model.Decoder_Fusion[0].block[0].conv1[0]
    assert decoder_in.weight.std().item() == pytest.approx(decoder_in.in_channels ** -0.5, rel=0.05)
    assert not decoder_in.bias.any()


def test_scaled_init_keeps_the_output_signal_from_collapsing_to_grey():
    """What the anchored output's init is for: PyTorch's default shrinks the image signal ~10x through
    the stacked blocks."""
    torch.manual_seed(0)
    prev, pose = torch.rand(2, 3, 32, 64), torch.rand(2, 3, 32, 64)
    spread = {}
    for scaled in (False, True):
        model = VAE_Model().eval()
        if scaled:
            scaled_init_(model)
        with torch.no_grad():
            frame, _, _ = model.step(prev, pose, z=torch.zeros(2, 12, 32, 64))
        spread[scaled] = frame.std().item()
    assert spread[True] > 2 * spread[False]


def test_small_latent_is_rejected_with_a_reason():
    with pytest.raises(ValueError, match="N_dim must be >= 4"):
        VAE_Model(N_dim=2)


def test_anchored_output_starts_as_the_first_frame_and_needs_it():
    model = VAE_Model(**TINY_WIDTHS, output_mode="anchored").eval()
    first = torch.rand(2, 3, 8, 16).clamp(0.01, 0.99)
    video = model.rollout(first, torch.rand(2, 4, 3, 8, 16))
    torch.testing.assert_close(video, first.unsqueeze(1).expand_as(video), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="needs the video's first_frame"):
        model.step(first, torch.rand(2, 3, 8, 16))
