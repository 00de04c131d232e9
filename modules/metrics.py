"""Image-quality metrics, exact per frame (the template pooled the MSE over the batch first)."""
import torch

# An MSE of 0 (a perfect frame) would give an infinite PSNR; floor it at this value (100 dB).
_MIN_MSE = 1e-10


def psnr_per_frame(pred, target, data_range=1.0):
    """PSNR of every frame: (..., C, H, W) x2 -> (...) in dB, computed in float32."""
    mse = (pred.float() - target.float()).pow(2).mean(dim=(-3, -2, -1))
    return 10 * torch.log10(data_range ** 2 / mse.clamp_min(_MIN_MSE))
