"""Training-clip augmentation for small datasets (``--augment``): more signal from a few videos.

- ``offset``: the grid of training clips starts at a random frame each epoch, so every frame is a clip's
  first (anchor-adjacent) frame in some epoch, not only every ``T``-th.
- ``flip``: a clip and its poses mirrored left to right, the pose's left and right limbs swapped. A
  mirrored skeleton keeps its colours on the wrong side (the right arm's colour now draws an arm on the
  figure's left), so the mirrored label would teach the wrong side; :func:`estimate_side_swap` finds which
  colours swap by reading the training labels themselves (no palette assumed: the course's PNGs, lab4_gif's
  pale dithered GIF colours and the synthetic OpenPose colours all differ), and :func:`swap_hues` moves
  each label pixel's hue to its mirror colour's, keeping its saturation and value (anti-aliased pixels,
  blends of a limb colour with the white background, keep their blend).
- ``shift``: frames and poses moved together by a few pixels (edges repeated).

Every draw is deterministic in (seed, epoch, clip), as the anchors are (dataloader.py).
"""
import numpy as np
import torch
import torch.nn.functional as F

from ..config import AUGMENTS

HUE_BINS = 18  # 20 degrees each: OpenPose's limb colours are 20 degrees apart, every one a bin's centre
MIN_CHROMA = 0.08  # a label pixel this far from grey belongs to a limb
MIN_BIN_SHARE = 0.002
SHARE_WEIGHT = 0.1  # a pair's pixel counts may differ (neighbouring limbs bleed across bin edges)  # bins with fewer limb pixels than this share stay where they are
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


# -- hues ------------------------------------------------------------------------------------------
def hue_and_chroma(rgb):
    """Hue in [0, 1) and chroma (max - min) of float RGB ``rgb`` (..., 3, H, W) in [0, 1]."""
    r, g, b = rgb.unbind(-3)
    high, low = rgb.max(-3).values, rgb.min(-3).values
    chroma = high - low
    safe = chroma.clamp_min(1e-8)
    hue = torch.where(high == r, ((g - b) / safe) % 6,
                      torch.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    return torch.where(chroma > 0, hue, torch.zeros_like(hue)) % 1.0, chroma


def hsv_to_rgb(hue, chroma, value):
    """Float RGB (..., 3, H, W) of ``hue`` in [0, 1), ``chroma`` and ``value`` (max channel)."""
    channels = []
    for n in (5, 3, 1):
        k = (n + hue * 6) % 6
        channels.append(value - chroma * torch.clamp(torch.minimum(k, 4 - k), 0, 1))
    return torch.stack(channels, dim=-3)


def hue_bin(hue):
    """The bin of each hue: bin i is centred on i * 360 / HUE_BINS degrees."""
    return torch.round(hue * HUE_BINS).long() % HUE_BINS


def swap_hues(labels, swap):
    """``labels`` (..., 3, H, W) in [0, 1] with every limb pixel's hue moved from its bin i to bin
    ``swap[i]`` (its offset inside the bin kept); greys, white and black are unchanged."""
    hue, chroma = hue_and_chroma(labels)
    shift = (torch.as_tensor(swap) - torch.arange(HUE_BINS)).float() / HUE_BINS
    new_hue = (hue + shift[hue_bin(hue)]) % 1.0
    return torch.where((chroma > 0).unsqueeze(-3), hsv_to_rgb(new_hue, chroma, labels.max(-3).values), labels)


# -- which colours are the mirror images of which ----------------------------------------------------
def side_statistics(labels):
    """Per hue bin: (share of the limb pixels, mean signed x offset from the skeleton's median x, mean y),
    offsets in frame widths, y in frame heights, over uint8 or float ``labels`` (N, 3, H, W)."""
    labels = labels.float() / 255 if labels.dtype == torch.uint8 else labels.float()
    hue, chroma = hue_and_chroma(labels)
    limb = chroma > MIN_CHROMA
    limb &= (limb.flatten(1).sum(1) >= 3).view(-1, 1, 1)  # frames with a skeleton to centre on
    n, h, w = limb.shape
    xs = (torch.arange(w, dtype=torch.float32) / w).expand(n, h, w)
    ys = (torch.arange(h, dtype=torch.float32) / h).view(1, h, 1).expand(n, h, w)
    centre = torch.where(limb, xs, torch.nan).flatten(1).nanmedian(dim=1).values.view(-1, 1, 1)
    bins = hue_bin(hue)[limb]
    count = torch.bincount(bins, minlength=HUE_BINS).double()
    dx = torch.bincount(bins, weights=(xs - centre)[limb].double(), minlength=HUE_BINS)
    y = torch.bincount(bins, weights=ys[limb].double(), minlength=HUE_BINS)
    counts = count.clamp_min(1)
    return (count / count.sum().clamp_min(1)).numpy(), (dx / counts).numpy(), (y / counts).numpy()


def estimate_side_swap(labels):
    """The involution of hue bins (a list: bin i -> swap[i]) under which the mirrored labels look most like
    the originals: each swapped pair of colours sits on opposite sides at the same height with about the
    same number of pixels, and a colour that stays has its pixels centred.

    Found exactly by dynamic programming over the used bins (a minimum-cost matching with fixed points)."""
    share, dx, y = side_statistics(labels)

    def cost(i, j):  # bin i mirrored and recoloured as bin j, compared with bin j
        return SHARE_WEIGHT * abs(share[i] - share[j]) + share[i] * (abs(dx[i] + dx[j]) + abs(y[i] - y[j]))

    used = [b for b in range(HUE_BINS) if share[b] >= MIN_BIN_SHARE]
    best = {(1 << len(used)) - 1: (0.0, ())}  # mask: the used bins already paired

    def solve(mask):  # the cheapest pairing of the used bins not yet in ``mask``
        if mask in best:
            return best[mask]
        i = next(k for k in range(len(used)) if not mask >> k & 1)
        rest = mask | 1 << i
        options = [(cost(used[i], used[i]) + solve(rest)[0], ((i, i),) + solve(rest)[1])]
        for j in range(i + 1, len(used)):
            if not mask >> j & 1:
                sub = solve(rest | 1 << j)
                options.append((cost(used[i], used[j]) + cost(used[j], used[i]) + sub[0], ((i, j),) + sub[1]))
        best[mask] = min(options, key=lambda option: option[0])
        return best[mask]

    swap = list(range(HUE_BINS))
    for i, j in solve(0)[1]:
        swap[used[i]], swap[used[j]] = used[j], used[i]
    return swap


# -- clips -----------------------------------------------------------------------------------------
def flip_clip(frames, labels, swap):
    """The mirror image of a clip (T, 3, H, W): frames flipped, labels flipped with their sides swapped."""
    return frames.flip(-1), swap_hues(labels.flip(-1), swap)


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


def augment_clip(frames, labels, rng, augments, swap):
    """``frames``, ``labels`` (T, 3, H, W) with the per-clip augmentations of ``augments`` drawn from the
    numpy Generator ``rng`` (``offset`` acts on the clip grid, not here)."""
    if "flip" in augments and rng.uniform() < 0.5:
        frames, labels = flip_clip(frames, labels, swap)
    if "shift" in augments:
        h, w = frames.shape[-2:]
        max_dy, max_dx = int(h * SHIFT_FRACTION), int(w * SHIFT_FRACTION)
        dy, dx = (int(v) for v in rng.integers([-max_dy, -max_dx], [max_dy + 1, max_dx + 1]))
        frames, labels = shift_clip(frames, labels, dy, dx)
    return frames, labels
