"""Writing frames as GIFs with PIL (no torchvision)."""
import os
from pathlib import Path

import torch
from PIL import Image


def to_uint8_hwc(frame):
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8 numpy array (rounded, clamped)."""
    return frame.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _atomic_save(image_save, path):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    image_save(tmp)
    os.replace(tmp, path)


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
