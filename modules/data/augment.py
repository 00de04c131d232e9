"""Training-clip augmentation for small datasets (``--augment``): more clips from a few videos.

- ``offset``: the grid of training clips starts at a random frame each epoch, so every frame is a clip's
  first (anchor-adjacent) frame in some epoch, not only every ``T``-th.
- ``shift``: frames and poses moved together by a few pixels (edges repeated).

Every draw is deterministic in (seed, epoch, clip), as the anchors are (dataloader.py). A mirror image
(with the pose's left/right colours swapped) lost on real course videos: docs/history.md.
"""
import torch.nn.functional as F

from ..config import AUGMENTS

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


def augment_clip(frames, labels, rng, augments):
    """``frames``, ``labels`` (T, 3, H, W) with the per-clip augmentations of ``augments`` drawn from the
    numpy Generator ``rng`` (``offset`` acts on the clip grid, not here)."""
    if "shift" in augments:
        h, w = frames.shape[-2:]
        max_dy, max_dx = int(h * SHIFT_FRACTION), int(w * SHIFT_FRACTION)
        dy, dx = (int(v) for v in rng.integers([-max_dy, -max_dx], [max_dy + 1, max_dx + 1]))
        frames, labels = shift_clip(frames, labels, dy, dx)
    return frames, labels
