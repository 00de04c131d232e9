"""Every quality metric of the repo, exact per frame (the template pooled the MSE over the batch).

- :func:`psnr_per_frame`: PSNR of float frames in [0, 1] (validation, val_PSNR.py).
- :func:`psnr_8bit`: the course Kaggle's PSNR on 0..255 integers (Tester's local score, score.py).
- :func:`moving_psnr`: PSNR over the pixels that move, i.e. where the ground truth differs from its
  first frame by more than MOVING_THRESHOLD in some channel. Copying frame 0 scores high on the
  whole frame (the studio is static) and low here, so this tells "follows the poses" from "copies
  frame 0"; :func:`copy_baseline` gives both numbers for the copy.
- :func:`vacated_psnr`: PSNR over the pixels the dancer of frame 0 has left (the studio shows again where
  frame 0 had the dancer); copying frame 0 keeps the old dancer there and scores low.
- :func:`silhouette_iou`: IoU of the predicted and true dancer silhouettes, the dancer being what is
  darker than the studio (see the function for where that does not hold).
- :func:`box_blur`, :func:`dedithered`: the de-dithered mode for palette GIFs (every metric computed on
  3x3 box-blurred prediction and truth).
- :func:`ssim_per_frame`: SSIM (Wang et al., 2004).

Frames: a video metric scores frames 1..T-1 of what it is given (frame 0 is the given frame); the
background of :func:`vacated_psnr` and :func:`silhouette_iou` is the per-pixel temporal median of all T
true frames unless a ``background`` is passed (the scoring of the peer's GIFs takes it over the whole
630-frame video and scores frames 1..600: :func:`modules.eval.quality.quality_scores`).

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
# Vacated pixels: the truth shows the background again (every channel within BACKGROUND_TOLERANCE of it)
# where frame 0 had the dancer (some channel more than VACATED_FRAME0_DISTANCE from it).
BACKGROUND_TOLERANCE = 0.05
VACATED_FRAME0_DISTANCE = 0.1
# The dancer: pixels whose luminance (ITU-R BT.601 weights) is more than DANCER_DARKER below the background's.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
DANCER_DARKER = 0.12
# The de-dithered mode: a BLUR_SIZE x BLUR_SIZE box blur with replicate padding.
BLUR_SIZE = 3


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


def masked_psnr(pred, truth, mask, data_range=1.0):
    """PSNR pooled over the masked pixels of frames 1..T-1: (..., T, C, H, W) x2 and a (..., T, 1, H, W)
    bool mask -> (...) in dB. The squared error is summed over every channel of every masked pixel of
    those frames and divided by their count (a few pixels in one frame would make a per-frame mean
    noisy); NaN for a video without any."""
    mask = mask[..., 1:, :, :, :].expand_as(truth[..., 1:, :, :, :])
    err = (pred[..., 1:, :, :, :].float() - truth[..., 1:, :, :, :].float()).pow(2) * mask
    count = mask.flatten(-4).sum(-1)
    mse = err.flatten(-4).sum(-1) / count.clamp_min(1)
    return torch.where(count > 0, psnr_from_mse(mse, data_range), torch.full_like(mse, float("nan")))


def moving_psnr(pred, truth, threshold=MOVING_THRESHOLD, data_range=1.0):
    """PSNR over the moving pixels of each video: (..., T, C, H, W) x2 -> (...) in dB, pooled over
    frames 1..T-1 (:func:`masked_psnr`). NaN for a video without any."""
    return masked_psnr(pred, truth, moving_mask(truth, threshold), data_range)


def moving_share(truth, threshold=MOVING_THRESHOLD):
    """The fraction of the pixels of frames 1..T-1 that move: (..., T, C, H, W) -> (...)."""
    return moving_mask(truth, threshold)[..., 1:, :, :, :].float().flatten(-4).mean(-1)


def temporal_median(video):
    """The per-pixel median over time: (..., T, C, H, W) -> (..., C, H, W) float32. For an even T the lower
    of the two middle values (torch.median), so the background of 8-bit frames stays on their grid."""
    return video.float().median(dim=-4).values


def _background(truth, background):
    return temporal_median(truth) if background is None else background.float()


def vacated_mask(truth, background=None):
    """(..., T, C, H, W) ground truth -> (..., T, 1, H, W) bool: the pixels frame 0's dancer has left.

    A pixel of frame t is vacated when every channel of the truth is within BACKGROUND_TOLERANCE of
    the background while some channel of frame 0 is more than VACATED_FRAME0_DISTANCE from it (frame 0
    itself is therefore all False). ``background`` (..., C, H, W): default the :func:`temporal_median` of
    ``truth``."""
    background = _background(truth, background).unsqueeze(-4)
    distance = (truth.float() - background).abs()
    shows_background = distance.amax(dim=-3, keepdim=True) <= BACKGROUND_TOLERANCE
    dancer_in_frame0 = distance[..., :1, :, :, :].amax(dim=-3, keepdim=True) > VACATED_FRAME0_DISTANCE
    return shows_background & dancer_in_frame0


def vacated_psnr(pred, truth, background=None, data_range=1.0):
    """PSNR over the vacated pixels (:func:`vacated_mask`) of each video: (..., T, C, H, W) x2 -> (...) in
    dB, the squared error pooled over every channel of those pixels of frames 1..T-1 (:func:`masked_psnr`).
    NaN for a video without any (a dancer that never leaves frame 0's place)."""
    return masked_psnr(pred, truth, vacated_mask(truth, background), data_range)


def luminance(frames):
    """(..., 3, H, W) RGB -> (..., H, W): 0.299 R + 0.587 G + 0.114 B."""
    weights = torch.tensor(LUMA_WEIGHTS, dtype=torch.float32, device=frames.device).view(3, 1, 1)
    return (frames.float() * weights).sum(dim=-3)


def dancer_mask(frames, background):
    """(..., 3, H, W) frames and a background that broadcasts against them, e.g. (3, H, W) -> (..., H, W)
    bool: the pixels more than DANCER_DARKER darker (in :func:`luminance`) than the background."""
    return luminance(background) - luminance(frames) > DANCER_DARKER


def silhouette_iou(pred, truth, background=None):
    """The dancer-silhouette IoU of each video: (..., T, 3, H, W) x2 -> (...) in [0, 1].

    The dancer of a frame is :func:`dancer_mask` against the background (default the
    :func:`temporal_median` of ``truth``); per frame 1..T-1 the IoU |pred & truth| / |pred | truth|,
    averaged over the frames. A frame where both masks are empty (no dancer, none predicted) is skipped
    (the IoU is 0/0: nothing to get right or wrong); NaN when every frame is. One empty mask against a
    non-empty one counts 0.

    Meaningful for a dark dancer on a lighter studio, as in the course's data (dark clothes on a white
    wall). A dancer lighter than the studio, or one whose clothes match it, has no or part of a mask:
    the IoU then measures the dark parts only; read the vacated-region PSNR there.
    """
    background = _background(truth, background).unsqueeze(-4)
    pred_mask = dancer_mask(pred[..., 1:, :, :, :], background)
    true_mask = dancer_mask(truth[..., 1:, :, :, :], background)
    inter = (pred_mask & true_mask).flatten(-2).sum(-1).float()
    union = (pred_mask | true_mask).flatten(-2).sum(-1).float()
    scored = union > 0
    per_frame = torch.where(scored, inter / union.clamp_min(1), torch.zeros_like(union))
    count = scored.sum(-1)
    mean = per_frame.sum(-1) / count.clamp_min(1)
    return torch.where(count > 0, mean, torch.full_like(mean, float("nan")))


def box_blur(frames, size=BLUR_SIZE):
    """Each channel's ``size`` x ``size`` mean with replicate padding (edge pixels repeat outward):
    (..., C, H, W) -> same shape, float32. Undoes a palette GIF's dither (noise of a few grey levels)."""
    *lead, h, w = frames.shape
    x = frames.float().reshape(-1, 1, h, w)
    pad = size // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    return F.avg_pool2d(x, size, stride=1).reshape(*lead, h, w)


def dedithered(metric):
    """``metric(pred, truth, **options)`` computed on prediction and truth box-blurred alike
    (:func:`box_blur`). A ``background`` passed through must come from the blurred truth (the default
    does)."""
    def on_blurred(pred, truth, **options):
        return metric(box_blur(pred), box_blur(truth), **options)
    on_blurred.__name__ = f"dedithered_{getattr(metric, '__name__', 'metric')}"
    return on_blurred


def copy_baseline(truth, threshold=MOVING_THRESHOLD):
    """What copying frame 0 into every frame scores: {"psnr", "moving_psnr", "vacated_psnr",
    "silhouette_iou"} floats (mean over videos, NaNs left out) for (T, C, H, W) or (V, T, C, H, W) ground
    truth, and the ``moving_share`` of pixels the moving PSNR is measured on."""
    copy = truth[..., :1, :, :, :].expand_as(truth)
    return {"psnr": float(psnr_per_frame(copy[..., 1:, :, :, :], truth[..., 1:, :, :, :]).mean()),
            "moving_psnr": float(moving_psnr(copy, truth, threshold).nanmean()),
            "vacated_psnr": float(vacated_psnr(copy, truth).nanmean()),
            "silhouette_iou": float(silhouette_iou(copy, truth).nanmean()),
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
