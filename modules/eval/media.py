"""Writing frames as GIFs (PIL, no torchvision) and MP4s (imageio-ffmpeg, optional), atomically."""
import importlib.util

import numpy as np
import torch
from PIL import Image

from ..io import atomic_path

GIF_SCALE = 2
VIDEO_FPS = 20
PALETTES = ("per_frame", "shared")


def to_uint8_hwc(frame):
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8 numpy array (rounded, clamped)."""
    return frame.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _enlarged(frames, scale):
    """(T, 3, H, W) float frames -> list of (H*scale, W*scale, 3) uint8 arrays (nearest)."""
    return [np.kron(to_uint8_hwc(f), np.ones((scale, scale, 1), dtype=np.uint8)) for f in frames]


def save_gif(frames, path, fps=VIDEO_FPS, scale=1, palette="per_frame"):
    """Save (T, 3, H, W) float frames in [0, 1] as a looping GIF.

    ``scale`` enlarges each frame by an integer factor (nearest) so 32x64 videos are watchable.
    ``palette``: ``per_frame`` (PIL quantises every frame on its own: the closest colours, what
    Tester.py writes) or ``shared`` (one palette from up to 32 frames, every frame mapped to it:
    ~7x faster for 630 frames, a visualisation's precision; the training run's rollout panels).
    """
    if palette not in PALETTES:
        raise ValueError(f"palette must be one of {PALETTES}, got {palette!r}")
    arrays = _enlarged(frames, scale)
    if palette == "shared":
        shared = Image.fromarray(np.concatenate(arrays[::max(1, len(arrays) // 32)])).quantize(colors=256)
        images = [Image.fromarray(a).quantize(palette=shared, dither=Image.Dither.NONE) for a in arrays]
    else:
        images = [Image.fromarray(a) for a in arrays]
    duration_ms = max(20, round(1000 / fps))
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)


def mp4_available():
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def save_mp4(frames, path, fps=VIDEO_FPS, scale=GIF_SCALE):
    """Write (T, 3, H, W) frames as an MP4 if imageio's ffmpeg plugin is installed; returns whether it
    did (the plugin is an optional extra: ``pip install imageio-ffmpeg``)."""
    if not mp4_available():
        return False
    import imageio.v2 as imageio
    with atomic_path(path) as tmp:
        imageio.mimwrite(tmp, _enlarged(frames, scale), fps=fps)
    return True
