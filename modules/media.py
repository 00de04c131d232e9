"""Writing frames as PNG images and GIFs with PIL (no torchvision)."""
import os
from pathlib import Path

import torch
from PIL import Image


def to_uint8_hwc(frame):
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8 numpy array (rounded, clamped)."""
    return frame.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def make_grid(frames, ncol=8, padding=2, pad_value=1.0):
    """(N, 3, H, W) -> one (3, H', W') image with ``ncol`` frames per row."""
    n, c, h, w = frames.shape
    ncol = min(ncol, n)
    nrow = -(-n // ncol)
    grid = frames.new_full((c, nrow * (h + padding) + padding, ncol * (w + padding) + padding), pad_value)
    for i, frame in enumerate(frames):
        top = padding + (i // ncol) * (h + padding)
        left = padding + (i % ncol) * (w + padding)
        grid[:, top:top + h, left:left + w] = frame
    return grid


def _atomic_save(image_save, path):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    image_save(tmp)
    os.replace(tmp, path)


def save_image(frame, path):
    """Save a (3, H, W) float image in [0, 1] as a PNG (atomically)."""
    image = Image.fromarray(to_uint8_hwc(frame))
    _atomic_save(lambda p: image.save(p, format="PNG"), path)


def save_gif(frames, path, fps=20, scale=1):
    """Save (T, 3, H, W) float frames in [0, 1] as a looping GIF (atomically).

    ``scale`` enlarges each frame by an integer factor (nearest) so 32x64 videos are watchable.
    """
    images = [Image.fromarray(to_uint8_hwc(f)) for f in frames]
    if scale != 1:
        images = [im.resize((im.width * scale, im.height * scale), Image.NEAREST) for im in images]
    duration_ms = max(20, round(1000 / fps))
    _atomic_save(lambda p: images[0].save(p, format="GIF", save_all=True, append_images=images[1:],
                                          duration=duration_ms, loop=0), path)
