"""SSIM (Wang et al., 2004) per frame, in pure torch.

The standard settings: an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, population
(not sample) covariances, computed per channel over the "valid" positions (windows fully inside
the image) and averaged over positions and channels. This equals scikit-image's
``structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=1, channel_axis=0)``: its reflect-padded filter agrees with the valid one wherever it
keeps values (it crops (11-1)/2 = 5 pixels per border before averaging).
"""
import torch
import torch.nn.functional as F

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
