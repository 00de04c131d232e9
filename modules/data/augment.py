"""Training-clip augmentation for small datasets (``--augment``): more clips from a few videos.

- ``offset``: the grid of training clips starts at a random frame each epoch, so every frame is a clip's
  first (anchor-adjacent) frame in some epoch, not only every ``T``-th.
- ``shift``: frames and poses moved together by a few pixels (edges repeated).
- ``nearer``: in half the clips the dancer of frames 1.. (the pixels darker than the video's empty
  studio) magnified up to ``MAX_ZOOM`` times about his centre and pasted on that studio, the poses
  zoomed alike, frame 0 as it was: a dancer who walks up to the camera (lab4_gif's seq2 opens with a
  close-up twice as tall as any frame of seq0-1).

Every draw is deterministic in (seed, epoch, clip), as the anchors are (dataloader.py). A mirror image
(with the pose's left/right colours swapped) lost on real course videos: docs/history.md.
"""
import math

import torch
import torch.nn.functional as F

from ..config import AUGMENTS

MAX_ZOOM = 2.0  # ``nearer``: the dancer up to twice as tall, the zoom drawn log-uniformly in [1, MAX_ZOOM]
NEARER_SHARE = 0.5  # the share of clips whose dancer comes nearer; the rest stay as recorded
DANCER_DARKER = 0.15  # a dancer pixel is darker than the studio plate by this much (luminance in [0, 1])
LUMA = (0.299, 0.587, 0.114)
SHIFT_FRACTION = 1 / 16  # the largest shift, a fraction of the frame's height and width (2 x 4 px at 32x64)


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


def zoom(x, factor, centre):
    """(N, C, H, W) magnified ``factor`` times about ``centre`` = (y, x) in grid_sample's coordinates
    ((0, 0) the frame's centre, +-1 its edges), bilinear, the edge pixels repeated."""
    cy, cx = centre
    theta = torch.tensor([[1 / factor, 0.0, cx * (1 - 1 / factor)], [0.0, 1 / factor, cy * (1 - 1 / factor)]],
                         dtype=x.dtype)
    grid = F.affine_grid(theta.expand(len(x), 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def dancer_nearer(frames, labels, studio, factor):
    """Frames 1.. of a clip with the dancer (the pixels darker than the ``studio`` plate (3, H, W), a
    pixel's margin around them) magnified ``factor`` times about his centre and pasted on the plate, the poses
    zoomed alike; frame 0, the anchor, as it was: the dancer walks up to the camera in a studio that stays."""
    luma = torch.tensor(LUMA, dtype=frames.dtype).view(3, 1, 1)
    off = ((studio - frames[1:]) * luma).sum(dim=1, keepdim=True) > DANCER_DARKER
    if not off.any():
        return frames, labels
    alpha = F.max_pool2d(off.float(), 3, stride=1, padding=1)
    h, w = frames.shape[-2:]
    ys, xs = torch.nonzero(off[:, 0], as_tuple=True)[1:]
    centre = ((ys.float().mean().item() + 0.5) * 2 / h - 1, (xs.float().mean().item() + 0.5) * 2 / w - 1)
    alpha = zoom(alpha, factor, centre)
    moved = alpha * zoom(frames[1:], factor, centre) + (1 - alpha) * studio
    return torch.cat([frames[:1], moved]), torch.cat([labels[:1], zoom(labels[1:], factor, centre)])


def augment_clip(frames, labels, rng, augments, studio=None):
    """``frames``, ``labels`` (T, 3, H, W) with the per-clip augmentations of ``augments`` drawn from the
    numpy Generator ``rng`` (``offset`` acts on the clip grid, not here); ``studio``: the clip's video's
    empty studio (3, H, W), for ``nearer``."""
    if "shift" in augments:
        h, w = frames.shape[-2:]
        max_dy, max_dx = int(h * SHIFT_FRACTION), int(w * SHIFT_FRACTION)
        dy, dx = (int(v) for v in rng.integers([-max_dy, -max_dx], [max_dy + 1, max_dx + 1]))
        frames, labels = shift_clip(frames, labels, dy, dx)
    if "nearer" in augments:
        nearer = rng.random() < NEARER_SHARE
        factor = math.exp(rng.uniform(0, math.log(MAX_ZOOM)))
        if nearer:
            frames, labels = dancer_nearer(frames, labels, studio, factor)
    return frames, labels
