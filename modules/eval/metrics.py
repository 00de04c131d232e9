"""Every quality metric of the repo, exact per frame (the template pooled the MSE over the batch).

- :func:`psnr_per_frame`: PSNR of float frames in [0, 1] (validation, val_PSNR.py).
- :func:`psnr_8bit`: the course Kaggle's PSNR on 0..255 integers (Tester's local score, score.py).
- :func:`moving_psnr`: PSNR over the pixels that move, i.e. where the ground truth differs from its
  first frame by more than MOVING_THRESHOLD in some channel. Copying frame 0 scores high on the
  whole frame (the studio is static) and low here, so this tells "follows the poses" from "copies
  frame 0"; :func:`copy_baseline` gives both numbers for the copy.
- :func:`ssim_per_frame`: SSIM (Wang et al., 2004).

SSIM uses the standard settings: an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, population
(not sample) covariances, computed per channel over the "valid" positions (windows fully inside
the image) and averaged over positions and channels. This equals scikit-image's
``structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=1, channel_axis=0)``: its reflect-padded filter agrees with the valid one wherever it
keeps values (it crops (11-1)/2 = 5 pixels per border before averaging).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

# An MSE of 0 (a perfect frame) would give an infinite PSNR; floor it (caps PSNR at 100 dB).
MIN_MSE_RATIO = 1e-10
MAX_8BIT = 255
MIN_MSE = MAX_8BIT ** 2 * MIN_MSE_RATIO
# A pixel "moves" in frame t when some channel differs from frame 0 by more than this (in [0, 1]
# units: 0.1 = 25 grey levels, well above the GIF dithering noise of a few levels).
MOVING_THRESHOLD = 0.1


def psnr_from_mse(mse, data_range=1.0):
    """PSNR in dB of an MSE (tensor or array) on a ``data_range`` scale, floored at 100 dB."""
    if torch.is_tensor(mse):
        return 10 * torch.log10(data_range ** 2 / mse.clamp_min(data_range ** 2 * MIN_MSE_RATIO))
    return 20 * math.log10(data_range) - 10 * np.log10(np.maximum(mse, data_range ** 2 * MIN_MSE_RATIO))


def psnr_per_frame(pred, target, data_range=1.0):
    """PSNR of every frame: (..., C, H, W) x2 -> (...) in dB, computed in float32."""
    mse = (pred.float() - target.float()).pow(2).mean(dim=(-3, -2, -1))
    return psnr_from_mse(mse, data_range)


def psnr_8bit(pred, target):
    """Per-frame PSNR on the 0..255 scale: (..., C, H, W) x2 arrays -> (...) float64 array in dB."""
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    return psnr_from_mse(((pred - target) ** 2).mean(axis=(-3, -2, -1)), MAX_8BIT)


def moving_mask(truth, threshold=MOVING_THRESHOLD):
    """(..., T, C, H, W) ground truth -> (..., T, 1, H, W) bool: pixels differing from frame 0 by more
    than ``threshold`` in some channel (frame 0 itself is all False)."""
    first = truth[..., :1, :, :, :]
    return (truth.float() - first.float()).abs().amax(dim=-3, keepdim=True) > threshold


def moving_psnr(pred, truth, threshold=MOVING_THRESHOLD, data_range=1.0):
    """PSNR over the moving pixels of each video: (..., T, C, H, W) x2 -> (...) in dB.

    The squared error is pooled over every channel of every moving pixel of frames 1..T-1 (a few
    moving pixels in one frame would make a per-frame mean noisy). NaN for a video without any.
    """
    mask = moving_mask(truth, threshold)[..., 1:, :, :, :].expand_as(truth[..., 1:, :, :, :])
    err = (pred[..., 1:, :, :, :].float() - truth[..., 1:, :, :, :].float()).pow(2) * mask
    count = mask.flatten(-4).sum(-1)
    mse = err.flatten(-4).sum(-1) / count.clamp_min(1)
    return torch.where(count > 0, psnr_from_mse(mse, data_range), torch.full_like(mse, float("nan")))


def moving_share(truth, threshold=MOVING_THRESHOLD):
    """The fraction of the pixels of frames 1..T-1 that move: (..., T, C, H, W) -> (...)."""
    return moving_mask(truth, threshold)[..., 1:, :, :, :].float().flatten(-4).mean(-1)


def copy_baseline(truth, threshold=MOVING_THRESHOLD):
    """What copying frame 0 into every frame scores: {"psnr", "moving_psnr"} floats (mean over videos)
    for (T, C, H, W) or (V, T, C, H, W) ground truth, and the ``moving_share`` of pixels it is measured on."""
    copy = truth[..., :1, :, :, :].expand_as(truth)
    return {"psnr": float(psnr_per_frame(copy[..., 1:, :, :, :], truth[..., 1:, :, :, :]).mean()),
            "moving_psnr": float(moving_psnr(copy, truth, threshold).nanmean()),
            "moving_share": float(moving_share(truth, threshold).mean())}


WINDOW_SIZE = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def gaussian_window(size=WINDOW_SIZE, sigma=SIGMA, dtype=torch.float64):
    """A normalised 1-D Gaussian of ``size`` taps, (size,)."""
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def ssim_per_frame(pred, target, data_range=1.0, window_size=WINDOW_SIZE, sigma=SIGMA):
    """SSIM of every frame: (..., C, H, W) x2 -> (...) float32, 1 for identical frames.

    Computed in float64 (the variances are differences of nearly equal numbers); H and W must be at
    least ``window_size``.
    """
    if pred.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    *lead, c, h, w = pred.shape
    if min(h, w) < window_size:
        raise ValueError(f"frames of {h}x{w} are smaller than the {window_size}x{window_size} SSIM window")
    x = pred.detach().reshape(-1, 1, h, w).double()
    y = target.detach().reshape(-1, 1, h, w).to(x)
    g = gaussian_window(window_size, sigma).to(x.device)

    def blur(img):  # separable Gaussian filter, valid positions only
        img = F.conv2d(img, g.view(1, 1, -1, 1))
        return F.conv2d(img, g.view(1, 1, 1, -1))

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x ** 2
    var_y = blur(y * y) - mu_y ** 2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    per_channel = ssim_map.mean(dim=(-2, -1)).view(*lead, c)
    return per_channel.mean(dim=-1).float()
