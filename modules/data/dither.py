"""Removing a palette GIF's dither from person frames (``make_dataset.py import --dedither``).

A palette GIF (the course's sample videos, ``lab4_gif``: a 6-level-per-channel web palette) draws the
studio's smooth greys as a pattern of neighbouring palette colours, one palette step (51 levels) apart, and
the pattern changes from frame to frame. Trained on such frames under MSE, a model paints the average
studio instead of copying frame 0. The filter here averages that noise out and keeps the dancer's
silhouette: a 3x3 box blur over only the neighbours within DITHER_EDGE of the centre pixel.

The scoring's de-dithered mode (:func:`modules.eval.metrics.box_blur`) is the same 3x3 mean with the same
replicate padding but ungated; :func:`gated_box_blur` with ``edge >= 255`` equals it up to rounding.
"""

import numpy as np
from PIL import Image

from ..config import DITHER_EDGE

# A neighbour counts when every channel is within DITHER_EDGE (64) levels of the centre pixel: above one
# step of lab4_gif's palette (51 levels), below two (102), so the dither averages out and an edge of two
# or more steps (most of the dark dancer's outline on the light wall) stays where it is.


def gated_box_blur(frame, edge=DITHER_EDGE):
    """The mean of each pixel's 3x3 neighbourhood over the neighbours (the pixel itself included) whose
    channels all lie within ``edge`` levels of the centre pixel's: (H, W, C) uint8 -> (H, W, C) uint8,
    rounded half up. Border pixels see their edge row/column repeated outward (replicate padding).

    Vectorised over the image, one pass per neighbour offset, in uint8/uint16 on channel planes: about
    60 ms for a 512x1024 frame on one core."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3:
        raise ValueError(f"expected an (H, W, C) uint8 frame, got {frame.dtype} {frame.shape}")
    h, w, _ = frame.shape
    planes = np.ascontiguousarray(frame.transpose(2, 0, 1))
    padded = np.pad(planes, ((0, 0), (1, 1), (1, 1)), mode="edge")
    total = np.zeros(planes.shape, dtype=np.uint16)  # at most 9 x 255
    count = np.zeros((h, w), dtype=np.uint16)
    distance, low, high = (np.empty((h, w), dtype=np.uint8) for _ in range(3))
    for dy in range(3):
        for dx in range(3):
            neighbour = padded[:, dy:dy + h, dx:dx + w]
            distance.fill(0)
            for n, c in zip(neighbour, planes):  # |n - c| without leaving uint8
                np.minimum(n, c, out=low)
                np.subtract(np.maximum(n, c, out=high), low, out=high)
                np.maximum(distance, high, out=distance)
            near = distance <= edge
            np.add(total, neighbour, out=total, where=near)
            count += near
    # round half up in integers; count >= 1 (the centre is always near itself)
    mean = (2 * total + count) // (2 * count)
    return np.ascontiguousarray(mean.astype(np.uint8).transpose(1, 2, 0))


def dedither_image(image, edge=DITHER_EDGE):
    """:func:`gated_box_blur` of an RGB PIL image, as an RGB PIL image of the same size."""
    return Image.fromarray(gated_box_blur(np.asarray(image.convert("RGB")), edge))
