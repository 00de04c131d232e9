"""The CVAE objective, apart from the network: reconstruction + beta * KL.

Shapes: predictions and targets are (B, T, 3, H, W) in [0, 1]; mu/logvar are (B, T, N, H, W),
one posterior per predicted frame. Beta comes from the schedule, outside this file.
"""
import torch
import torch.nn.functional as F

# Bounds of the soft clamp on logvar. With beta = 0 nothing holds logvar back and exp(logvar)
# overflows after a few epochs (the NaNs reported by peers); inside these bounds the clamp is
# the identity to ~1e-5, and unlike a hard clamp it keeps a gradient outside them.
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


def soft_clamp_logvar(logvar):
    """Smoothly bound logvar to (LOGVAR_MIN, LOGVAR_MAX)."""
    upper_bounded = LOGVAR_MAX - F.softplus(LOGVAR_MAX - logvar)
    return LOGVAR_MIN + F.softplus(upper_bounded - LOGVAR_MIN)


def reparameterize(mu, logvar, eps=None):
    """z = mu + exp(0.5 * logvar) * eps with eps ~ N(0, I) (drawn here unless given)."""
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_per_frame(mu, logvar, reduction="sum"):
    """KL(N(mu, exp(logvar)) || N(0, I)) per frame: (B, T, ...) -> (T,).

    ``sum``: the template's normalisation, summed over every latent number and divided by the
    batch size. ``mean``: averaged over the latent numbers too (a per-element KL on the same
    scale as the per-pixel MSE).
    """
    mu, logvar = mu.float(), logvar.float()
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    kl = kl.transpose(0, 1).flatten(2)  # (T, B, latent numbers)
    if reduction == "sum":
        return kl.sum(dim=2).mean(dim=1)
    if reduction == "mean":
        return kl.mean(dim=(1, 2))
    raise ValueError(f"unknown KL reduction {reduction!r} (choose 'sum' or 'mean')")


def mse_per_frame(pred, target):
    """Mean squared error per frame: (B, T, C, H, W) x2 -> (T,), averaged over batch and pixels."""
    return (pred.float() - target.float()).pow(2).mean(dim=(0, 2, 3, 4))


def candidate_loss(parts, target):
    """A loss of the composite output head's generated candidate itself: ``sum_t mse(scratch_t)``
    (as vid2vid's loss on its generated branch, at weight 1), so it stays a whole image where the
    selection does not use it yet. ``parts``: the model's (B, T, 3, H, W) ``scratch``; returns a scalar
    tensor (0 without one). The warped candidate gets none: on the whole frame, whose most pixels are
    studio, such a loss drove the flow off the frame, turning the warp into a smear of the border
    instead of a moved dancer (docs/history.md)."""
    if "scratch" not in parts:
        return target.new_zeros(())
    return mse_per_frame(parts["scratch"], target).sum()


def cvae_loss(pred, target, mu, logvar, beta, kl_reduction="sum"):
    """Loss of one clip, summed over its predicted frames as the course report does.

    Returns a dict of scalar tensors: ``loss`` = sum_t (mse_t + beta * kl_t), ``recon`` = sum_t
    mse_t, ``kl`` = sum_t kl_t.
    """
    recon = mse_per_frame(pred, target).sum()
    kl = kl_per_frame(mu, logvar, kl_reduction).sum()
    return {"loss": recon + beta * kl, "recon": recon, "kl": kl}
