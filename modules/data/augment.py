"""Training-clip augmentation for small datasets (``--augment``): more clips from a few videos.

- ``offset``: the grid of training clips starts at a random frame each epoch, so every frame is a clip's
  first (anchor-adjacent) frame in some epoch, not only every ``T``-th.
- ``shift``: frames and poses moved together by a few pixels (edges repeated).
- ``scale``: half the clips, frames and poses alike, zoomed in by up to ``MAX_ZOOM`` about a random
  point (bilinear): the dancer nearer the camera than the training videos show him (lab4_gif's seq2
  walks up to a close-up twice his usual height; seq0-1 never do).

Every draw is deterministic in (seed, epoch, clip), as the anchors are (dataloader.py). A mirror image
(with the pose's left/right colours swapped) lost on real course videos: docs/history.md.
"""
import math

import torch
import torch.nn.functional as F

from ..config import AUGMENTS

SHIFT_FRACTION = 1 / 16  # the largest shift, a fraction of the frame's height and width (2 x 4 px at 32x64)
MAX_ZOOM = 2.0  # the largest zoom in, drawn uniformly in log scale in [1, MAX_ZOOM]
ZOOM_SHARE = 0.5  # the share of clips zoomed: the rest stay unresampled, as sharp as the data
ZOOM_CENTRE = 0.5  # the zoom's fixed point, uniform in [-0.5, 0.5] of the half-frame about the centre


def check_augments(augment):
    """``--augment``'s values as a tuple of AUGMENTS ("none" alone: none); anything else is a ValueError."""
    augment = tuple(augment or ())
    unknown = [a for a in augment if a not in AUGMENTS + ("none",)]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}: expected some of {', '.join(AUGMENTS)} or none")
    if "none" in augment and len(augment) > 1:
        raise ValueError(f"--augment none cannot be combined with {' '.join(a for a in augment if a != 'none')}")
    return tuple(a for a in augment if a != "none")


# -- clips -----------------------------------------------------------------------------------------
def shift_clip(frames, labels, dy, dx):
    """Frames and labels moved ``dy`` pixels down and ``dx`` right, the edge rows and columns repeated."""
    if dy == 0 and dx == 0:
        return frames, labels

    def move(x):
        padded = F.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)), mode="replicate")
        h, w = x.shape[-2:]
        top, left = max(-dy, 0), max(-dx, 0)
        return padded[..., top:top + h, left:left + w]
    return move(frames), move(labels)


def zoom_clip(frames, labels, zoom, centre=(0.0, 0.0)):
    """Frames and labels (T, 3, H, W) magnified ``zoom`` times about ``centre`` = (y, x) in grid_sample's
    coordinates ((0, 0) the frame's centre, +-1 its edges), bilinear; a zoom < 1 repeats the edge pixels."""
    if zoom == 1:
        return frames, labels
    cy, cx = centre
    theta = torch.tensor([[1 / zoom, 0.0, cx * (1 - 1 / zoom)], [0.0, 1 / zoom, cy * (1 - 1 / zoom)]],
                         dtype=frames.dtype)
    grid = F.affine_grid(theta.expand(len(frames), 2, 3), list(frames.shape), align_corners=False)

    def resample(x):
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return resample(frames), resample(labels)


def augment_clip(frames, labels, rng, augments):
    """``frames``, ``labels`` (T, 3, H, W) with the per-clip augmentations of ``augments`` drawn from the
    numpy Generator ``rng`` (``offset`` acts on the clip grid, not here)."""
    if "shift" in augments:
        h, w = frames.shape[-2:]
        max_dy, max_dx = int(h * SHIFT_FRACTION), int(w * SHIFT_FRACTION)
        dy, dx = (int(v) for v in rng.integers([-max_dy, -max_dx], [max_dy + 1, max_dx + 1]))
        frames, labels = shift_clip(frames, labels, dy, dx)
    if "scale" in augments:
        zoomed = rng.random() < ZOOM_SHARE
        zoom = math.exp(rng.uniform(0, math.log(MAX_ZOOM)))
        centre = tuple(rng.uniform(-ZOOM_CENTRE, ZOOM_CENTRE, size=2))
        if zoomed:
            frames, labels = zoom_clip(frames, labels, zoom, centre)
    return frames, labels
