"""The objective: KL against torch.distributions, reparameterisation, MSE, the loss sum."""
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from modules.objective import (LOGVAR_MAX, LOGVAR_MIN, cvae_loss, kl_per_frame, mse_per_frame,
                               reparameterize, soft_clamp_logvar)


def reference_kl(mu, logvar):
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return kl_divergence(q, p)


def test_kl_matches_torch_distributions_with_the_template_normalisation():
    torch.manual_seed(0)
    mu, logvar = torch.randn(3, 4, 5, 6, 7), torch.randn(3, 4, 5, 6, 7)
    expected = reference_kl(mu, logvar).sum(dim=(2, 3, 4)).sum(dim=0) / 3  # summed, / batch size
    torch.testing.assert_close(kl_per_frame(mu, logvar, "sum"), expected)
    expected_mean = reference_kl(mu, logvar).transpose(0, 1).flatten(1).mean(dim=1)
    torch.testing.assert_close(kl_per_frame(mu, logvar, "mean"), expected_mean)


def test_kl_is_zero_for_the_prior_and_rejects_unknown_reduction():
    zeros = torch.zeros(2, 3, 4, 5, 5)
    assert torch.equal(kl_per_frame(zeros, zeros), torch.zeros(3))
    with pytest.raises(ValueError, match="reduction"):
        kl_per_frame(zeros, zeros, "max")


def test_reparameterize_formula_and_statistics():
    mu, logvar = torch.full((200_000,), 1.5), torch.full((200_000,), 2 * torch.log(torch.tensor(0.5)))
    eps = torch.randn(200_000)
    torch.testing.assert_close(reparameterize(mu, logvar, eps), mu + 0.5 * eps)
    torch.manual_seed(0)
    z = reparameterize(mu, logvar)
    assert abs(z.mean() - 1.5) < 0.01
    assert abs(z.std() - 0.5) < 0.01


def test_reparameterize_gradients_flow_to_mu_and_logvar():
    mu, logvar = torch.zeros(10, requires_grad=True), torch.zeros(10, requires_grad=True)
    reparameterize(mu, logvar).sum().backward()
    assert torch.equal(mu.grad, torch.ones(10))
    assert logvar.grad.abs().sum() > 0


def test_soft_clamp_is_identity_inside_and_bounded_with_gradient_outside():
    inside = torch.linspace(-15, 5, 50)
    torch.testing.assert_close(soft_clamp_logvar(inside), inside, atol=1e-4, rtol=0)
    extreme = torch.tensor([-1e4, 1e4], requires_grad=True)
    clamped = soft_clamp_logvar(extreme)
    assert clamped[0] >= LOGVAR_MIN and clamped[1] <= LOGVAR_MAX
    assert torch.isfinite(kl_per_frame(torch.zeros(1, 1, 2), clamped.view(1, 1, 2))).all()
    clamped.sum().backward()
    assert torch.isfinite(extreme.grad).all()


def test_loss_is_the_sum_over_frames_of_mse_plus_beta_kl():
    torch.manual_seed(0)
    pred, target = torch.rand(2, 4, 3, 5, 6), torch.rand(2, 4, 3, 5, 6)
    mu, logvar = torch.randn(2, 4, 3, 5, 6), torch.randn(2, 4, 3, 5, 6)
    terms = cvae_loss(pred, target, mu, logvar, beta=0.3)
    expected_recon = sum(torch.nn.functional.mse_loss(pred[:, t], target[:, t]) for t in range(4))
    expected_kl = sum(reference_kl(mu[:, t], logvar[:, t]).sum() / 2 for t in range(4))
    torch.testing.assert_close(terms["recon"], expected_recon)
    torch.testing.assert_close(terms["kl"], expected_kl)
    torch.testing.assert_close(terms["loss"], expected_recon + 0.3 * expected_kl)
    assert mse_per_frame(pred, target).shape == (4,)
