"""SSIM against closed forms and an independent window-by-window implementation."""
import numpy as np
import pytest
import torch

from modules.ssim import K1, K2, gaussian_window, ssim_per_frame


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
