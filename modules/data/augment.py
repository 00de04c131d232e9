"""Colour augmentation of training clips: ``--hue_aug``.

A video's first frame is the only place the model can learn a new dancer's colours from; with few
training dancers it can instead memorise theirs (the synthetic validation dancer is new: train-set
rollouts scored ~1.6 dB above it, docs/quality.md). Rotating every frame of a clip by one random angle
about the grey axis of RGB space gives each clip a dancer of new colours, while the grey studio, the
brightness and the pose images stay as they are, so the colours must come from frame 0.
"""
import math

import torch

GREY_AXIS = torch.full((3,), 3 ** -0.5)


def hue_rotation(angle):
    """The 3x3 rotation of RGB space by ``angle`` radians about the grey axis (Rodrigues' formula).
    Greys are fixed; 2*pi/3 maps (r, g, b) to (b, r, g)."""
    k = GREY_AXIS.double()
    cross = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]], dtype=torch.float64)
    return (math.cos(angle) * torch.eye(3, dtype=torch.float64) + math.sin(angle) * cross
            + (1 - math.cos(angle)) * torch.outer(k, k))


def rotate_hue(frames, angles):
    """Frames (B, T, 3, H, W) in [0, 1], one angle per clip -> the clips' colours rotated, clamped to [0, 1]."""
    matrices = torch.stack([hue_rotation(a) for a in angles]).to(frames.device, frames.dtype)
    return torch.einsum("bij,btjhw->btihw", matrices, frames).clamp_(0, 1)


def random_hue_rotation(frames, rng):
    """:func:`rotate_hue` by angles drawn from ``rng`` (a ``random.Random``), uniform on [0, 2*pi)."""
    return rotate_hue(frames, [rng.uniform(0, 2 * math.pi) for _ in range(frames.shape[0])])
