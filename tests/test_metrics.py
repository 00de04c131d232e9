"""The metrics: SSIM against closed forms and an independent window-by-window implementation; the
moving-region PSNR and the copy-frame-0 baseline against hand-computed values."""
import math

import numpy as np
import pytest
import torch

from modules.eval.metrics import (K1, K2, MOVING_THRESHOLD, copy_baseline, gaussian_window, moving_mask, moving_psnr,
                                  moving_share, ssim_per_frame)


def _reference_ssim(x, y, data_range=1.0, size=11, sigma=1.5):
    """Wang et al.'s SSIM written out window by window in float64 numpy: (C, H, W) x2 -> float.

    Weighted means/variances/covariance under an 11x11 Gaussian over every window that fits
    (population statistics), averaged over windows and channels (what scikit-image's
    structural_similarity gives with gaussian_weights=True, use_sample_covariance=False)."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-r ** 2 / (2 * sigma ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    values = []
    for xc, yc in zip(x, y):
        for i in range(xc.shape[0] - size + 1):
            for j in range(xc.shape[1] - size + 1):
                a, b = xc[i:i + size, j:j + size], yc[i:i + size, j:j + size]
                ma, mb = (w * a).sum(), (w * b).sum()
                va, vb = (w * (a - ma) ** 2).sum(), (w * (b - mb) ** 2).sum()
                cov = (w * (a - ma) * (b - mb)).sum()
                values.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_identical_frames_give_one():
    x = torch.rand(2, 4, 3, 32, 64)
    ssim = ssim_per_frame(x, x.clone())
    assert ssim.shape == (2, 4)
    torch.testing.assert_close(ssim, torch.ones(2, 4))


def test_constant_frames_give_the_luminance_term():
    a, b = 0.2, 0.7
    ssim = ssim_per_frame(torch.full((3, 16, 16), a), torch.full((3, 16, 16), b))
    c1 = (K1 * 1.0) ** 2
    assert float(ssim) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-6)


def test_matches_the_window_by_window_definition():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 14, 17, generator=gen, dtype=torch.float64)
    y = (x + 0.2 * torch.randn(3, 14, 17, generator=gen, dtype=torch.float64)).clamp(0, 1)
    expected = _reference_ssim(x.numpy(), y.numpy())
    assert float(ssim_per_frame(x, y)) == pytest.approx(expected, rel=1e-5)
    assert 0.1 < expected < 0.9


def test_data_range_scales_the_constants():
    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 3, 12, 12, generator=gen), torch.rand(2, 3, 12, 12, generator=gen)
    torch.testing.assert_close(ssim_per_frame(255 * x, 255 * y, data_range=255.0), ssim_per_frame(x, y))


def test_window_is_a_normalised_gaussian_and_small_frames_are_refused():
    g = gaussian_window()
    assert g.shape == (11,) and float(g.sum()) == pytest.approx(1.0) and int(g.argmax()) == 5
    with pytest.raises(ValueError, match="smaller than the 11x11 SSIM window"):
        ssim_per_frame(torch.rand(3, 8, 64), torch.rand(3, 8, 64))


# -- the moving-region metric ---------------------------------------------------------------------------

def test_moving_pixels_are_where_the_truth_differs_from_its_first_frame():
    truth = torch.zeros(3, 3, 2, 2)
    truth[1, 0, 0, 0] = MOVING_THRESHOLD + 0.05  # one channel of one pixel moves in frame 1
    truth[2, :, 1, 1] = MOVING_THRESHOLD / 2  # below the threshold: not moving
    mask = moving_mask(truth)
    assert mask.shape == (3, 1, 2, 2) and mask.sum() == 1 and mask[1, 0, 0, 0]
    assert float(moving_share(truth)) == pytest.approx(1 / 8)


def test_moving_psnr_pools_the_error_over_the_moving_pixels_only():
    truth = torch.zeros(1, 3, 3, 2, 2)
    truth[0, 1, :, 0, 0] = 0.5
    truth[0, 2, :, 0, 1] = 0.5
    pred = truth.clone()
    pred[0, 1, :, 0, 0] = 0.4  # error 0.1 on the 3 channels of moving pixel 1
    pred[0, 2, :, 1, 1] = 0.9  # a large error on a static pixel: not counted
    mse = (3 * 0.1 ** 2 + 3 * 0) / 6
    assert float(moving_psnr(pred, truth)) == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)
    assert torch.isnan(moving_psnr(pred, torch.zeros_like(truth))).all()  # nothing moves


def test_copy_baseline_scores_copying_frame_zero():
    truth = torch.rand(5, 3, 8, 8)
    copy = truth[:1].expand_as(truth)
    expected = 10 * torch.log10(1 / (copy[1:] - truth[1:]).pow(2).mean(dim=(1, 2, 3))).mean()
    baseline = copy_baseline(truth)
    assert baseline["psnr"] == pytest.approx(float(expected), rel=1e-5)
    assert baseline["moving_psnr"] == pytest.approx(float(moving_psnr(copy, truth)), rel=1e-6)
    assert baseline["moving_share"] == pytest.approx(float(moving_share(truth)))
