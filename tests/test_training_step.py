"""The batched training pass equals the template's frame-by-frame step."""
import copy

import pytest
import torch

from bench.template_reference import template_clip_loss
from conftest import TINY_WIDTHS
from modules.objective import cvae_loss
from modules.vae import VAE_Model



@pytest.mark.parametrize("teacher_forcing", [True, False])
@pytest.mark.parametrize("kl_reduction", ["sum", "mean"])
def test_batched_pass_equals_frame_by_frame_step(teacher_forcing, kl_reduction):
    torch.manual_seed(0)
    ours = VAE_Model(**TINY_WIDTHS).train()
    reference = copy.deepcopy(ours)
    frames, poses = torch.rand(2, 5, 3, 8, 16), torch.rand(2, 5, 3, 8, 16)
    eps = torch.randn(2, 4, 4, 8, 16)

    pred, mu, logvar = ours(frames, poses, teacher_forcing, eps=eps)
    loss = cvae_loss(pred, frames[:, 1:], mu, logvar, beta=0.7, kl_reduction=kl_reduction)["loss"]
    expected = template_clip_loss(reference, frames, poses, 0.7, teacher_forcing, eps, kl_reduction)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)

    loss.backward()
    expected.backward()
    for (name, p), q in zip(ours.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name)
    bn, bn_ref = ours.label_transformation[2], reference.label_transformation[2]
    torch.testing.assert_close(bn.running_mean, bn_ref.running_mean)
    torch.testing.assert_close(bn.running_var, bn_ref.running_var)
    assert bn.num_batches_tracked == bn_ref.num_batches_tracked == 4


def test_free_running_steps_start_from_the_models_own_frames():
    torch.manual_seed(0)
    model = VAE_Model(**TINY_WIDTHS).eval()
    frames, poses = torch.rand(1, 4, 3, 8, 16), torch.rand(1, 4, 3, 8, 16)
    eps = torch.randn(1, 3, 4, 8, 16)
    forced, _, _ = model(frames, poses, True, eps=eps)
    free, _, _ = model(frames, poses, False, eps=eps)
    torch.testing.assert_close(free[:, 0], forced[:, 0])  # both start from the true frame 0
    assert not torch.allclose(free[:, 1], forced[:, 1])
