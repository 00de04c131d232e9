"""PyramidVAE: the course's CVAE wiring on multi-scale networks (``--arch pyramid``).

The same five networks under the template's names (frame encoder, label encoder, Gaussian
predictor, decoder fusion, generator) and the same interface as :class:`~modules.vae.VAE_Model`,
but the encoders downsample to 1/2 and 1/4 resolution and the generator comes back up with skip
connections (as in SVG and SRVP), so a 3x3 conv at the bottom spans 12 pixels of the frame and the
networks reach across the stage at a fraction of the template's full-resolution FLOPs.

Every frame is decoded from the video's first frame, pose 0, pose t and a latent: where the
template takes the previous frame, this model takes frame 0 again. So frame t follows from frame 0
and the poses alone, no error of the model is fed back into the next step, teacher forcing has
nothing to force, and the training pass and the rollout decode many frames in one call. (The
recursive decoder scored the same on real videos at 1.9x the cost per epoch: docs/history.md.) The
frame comes out of the composite head (:mod:`modules.composite`): a per-pixel selection among
frame 0, frame 0 warped by a predicted flow and a generated image.

Shapes: frames and poses (B, T, 3, H, W) in [0, 1] with H, W divisible by 4; features are lists
finest first, level k at (H / 2^k, W / 2^k); the latent is (B, N_dim, H / 4, W / 4).
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .composite import CompositeHead
from .layers import POSE_CHUNK, ResidualBlock, conv1x1, conv3x3, latent_like, scaled_init_
from .objective import reparameterize, soft_clamp_logvar

LEVELS = 3  # full, 1/2 and 1/4 resolution
SCALE = 2 ** (LEVELS - 1)
SLOPE = 0.01


@dataclass(frozen=True)
class PyramidConfig:
    """What a :class:`PyramidVAE` is: its widths at 1/4 resolution (see the class)."""
    F_dim: int = 64
    L_dim: int = 32
    N_dim: int = 8
    D_out_dim: int = 96


def _act():
    return nn.LeakyReLU(negative_slope=SLOPE, inplace=True)


def level_widths(width):
    """Channels per level, finest first: width/4, width/2, width (at least 4 each)."""
    return [max(4, width // 2 ** (LEVELS - 1 - k)) for k in range(LEVELS)]


class PyramidEncoder(nn.Module):
    """Image (N, C, H, W) -> [features at H x W, H/2 x W/2, H/4 x W/4], one residual block each."""

    def __init__(self, in_ch, width):
        super().__init__()
        widths = level_widths(width)
        self.widths = widths
        self.stem = nn.Sequential(conv3x3(in_ch, widths[0]), _act())
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[k - 1], widths[k], kernel_size=3, stride=2, padding=1), _act())
            for k in range(1, LEVELS))
        self.blocks = nn.ModuleList(ResidualBlock(c, c, leaky_relu_slope=SLOPE) for c in widths)

    def forward(self, x):
        features = [self.blocks[0](self.stem(x))]
        for down, block in zip(self.downs, self.blocks[1:]):
            features.append(block(down(features[-1])))
        return features


class PyramidGaussianPredictor(nn.Module):
    """q(z | frame t, pose t) from the coarsest features: -> (mu, logvar), each (N, N_dim, H/4, W/4)."""

    def __init__(self, frame_ch, pose_ch, n_dim):
        super().__init__()
        self.net = nn.Sequential(conv3x3(frame_ch + pose_ch, frame_ch), _act(), conv1x1(frame_ch, 2 * n_dim))

    def forward(self, frame_feature, pose_feature):
        return self.net(torch.cat([frame_feature, pose_feature], dim=1)).chunk(2, dim=1)


class PyramidFusion(nn.Module):
    """Coarsest features of (frame 0 twice, pose t, pose 0), frame 0's features averaged over the frame
    (its colours, seen from everywhere) and z -> (N, D, H/4, W/4).

    Frame 0 comes twice, where the template's wiring has the previous frame and our anchor: the layout
    of the checkpoints trained with both (a 1x1 merge of a repeated input costs ~1% of a step)."""

    def __init__(self, frame_ch, pose_ch, n_dim, out_ch):
        super().__init__()
        in_ch = 3 * frame_ch + 2 * pose_ch + n_dim
        self.merge = nn.Sequential(conv1x1(in_ch, out_ch), _act())
        self.blocks = nn.Sequential(ResidualBlock(out_ch, out_ch, leaky_relu_slope=SLOPE),
                                    ResidualBlock(out_ch, out_ch, leaky_relu_slope=SLOPE))

    def forward(self, pose, first, pose0, z):
        colours = first.mean(dim=(-2, -1), keepdim=True).expand_as(first)
        inputs = [first, pose, first, pose0, z.to(first.dtype), colours]
        return self.blocks(self.merge(_cat_channels(inputs, _layout_of(self.blocks))))


class PyramidGenerator(nn.Module):
    """Fused coarse features + per-level skips + the first frame -> (frame (N, 3, H, W), parts).

    ``skip_widths[k]``: channels of the skip features concatenated in at level k (k < LEVELS - 1);
    the frame and its ``parts`` come from the :class:`~modules.composite.CompositeHead`.
    """

    def __init__(self, in_ch, skip_widths, width):
        super().__init__()
        widths = level_widths(width)
        self.merges = nn.ModuleList()
        self.blocks = nn.ModuleList()
        below = in_ch
        for k in reversed(range(LEVELS - 1)):
            self.merges.append(nn.Sequential(conv1x1(below + skip_widths[k], widths[k]), _act()))
            self.blocks.append(ResidualBlock(widths[k], widths[k], leaky_relu_slope=SLOPE))
            below = widths[k]
        self.head = CompositeHead(below, in_ch)

    def forward(self, fused, skips, first_frame):
        h = fused
        for merge, block, skip in zip(self.merges, self.blocks, reversed(skips)):
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(merge(torch.cat([h, skip], dim=1)))
        return self.head(h, fused, first_frame)


class PyramidVAE(nn.Module):
    """The CVAE of :mod:`modules.vae` on multi-scale networks; see the module docstring.

    Args (the fields of :class:`PyramidConfig`, the template's width flags read per level): F_dim,
    L_dim: channels of the frame and pose encoders at 1/4 resolution (half and a quarter of that
    above); N_dim: latent channels at 1/4 resolution; D_out_dim: channels of the fusion at 1/4
    resolution (the generator narrows to D_out_dim / 2 and / 4 on the way up).
    """

    def __init__(self, F_dim=64, L_dim=32, N_dim=8, D_out_dim=96):
        super().__init__()
        self.config = PyramidConfig(F_dim, L_dim, N_dim, D_out_dim)
        self.N_dim = N_dim
        self.frame_transformation = PyramidEncoder(3, F_dim)
        self.label_transformation = PyramidEncoder(3, L_dim)
        frame_w, pose_w = self.frame_transformation.widths, self.label_transformation.widths
        self.Gaussian_Predictor = PyramidGaussianPredictor(frame_w[-1], pose_w[-1], N_dim)
        self.Decoder_Fusion = PyramidFusion(frame_w[-1], pose_w[-1], N_dim, D_out_dim)
        skip_widths = [2 * f + 2 * p for f, p in zip(frame_w, pose_w)]
        self.Generator = PyramidGenerator(D_out_dim, skip_widths[:-1], D_out_dim)
        scaled_init_(self)
        self.Generator.head.reset()

    # -- the parts ---------------------------------------------------------------------------
    def encode(self, network, video):
        """(B, T, 3, H, W) or (B, 3, H, W) -> list of per-level features with the same leading dims."""
        _check_size(video)
        if video.dim() == 4:
            return network(video)
        batch, length = video.shape[:2]
        features = network(video.reshape(batch * length, *video.shape[2:]))
        return [f.reshape(batch, length, *f.shape[1:]) for f in features]

    def posterior(self, frame_feature, pose_feature):
        """Coarsest features (..., C, H/4, W/4) -> (mu, logvar), float32, each (..., N_dim, H/4, W/4)."""
        lead = frame_feature.shape[:-3]
        mu, logvar = self.Gaussian_Predictor(frame_feature.reshape(-1, *frame_feature.shape[-3:]),
                                             pose_feature.reshape(-1, *pose_feature.shape[-3:]))
        mu, logvar = (x.float().reshape(*lead, *x.shape[1:]) for x in (mu, logvar))
        return mu, soft_clamp_logvar(logvar)

    def decode(self, pose, z, anchor, first_frame):
        """Frames for a (N, ...) batch of steps: feature lists of pose t, the latent, ``anchor`` =
        feature lists of (first frame, pose 0), and the first frame (N, 3, H, W).
        Returns (frame (N, 3, H, W) float32, the head's parts: (N, ...) tensors)."""
        first, pose0 = anchor
        fused = self.Decoder_Fusion(pose[-1], first[-1], pose0[-1], z)
        layout = _layout_of(self.Generator)
        skips = [_cat_channels([f, p, f, p0], layout) for f, p, p0 in zip(first[:-1], pose[:-1], pose0[:-1])]
        return self.Generator(fused, skips, first_frame)

    def anchor(self, first_frame, first_pose):
        return (self.encode(self.frame_transformation, first_frame),
                self.encode(self.label_transformation, first_pose))

    def prior_z(self, batch_size, size, like, z_mode="prior", generator=None):
        """Latent of a rollout step for frames of ``size`` (H, W): N(0, I) (``prior``) or zeros."""
        return latent_like((batch_size, self.N_dim, size[0] // SCALE, size[1] // SCALE), like, z_mode, generator)

    # -- a rollout and the training pass ---------------------------------------------------------
    def rollout(self, first_frame, poses, z_mode="prior", generator=None, out=None):
        """Generate a video from its first frame (B, 3, H, W) and its poses (B, T, 3, H, W); as
        :meth:`modules.vae.VAE_Model.rollout`, except that ``poses[:, 0]`` is used (the decoder sees
        the first frame's pose) and POSE_CHUNK frames are decoded per call (nothing is recursive).
        Returns (B, T, 3, H, W) with frame 0 = ``first_frame``."""
        batch, length = poses.shape[:2]
        if out is None:
            out = first_frame.new_empty(batch, length, *first_frame.shape[1:])
        out[:, 0] = first_frame
        anchor = self.anchor(first_frame, poses[:, 0])
        for start in range(1, length, POSE_CHUNK):
            pose = self.encode(self.label_transformation, poses[:, start:start + POSE_CHUNK])
            steps = pose[0].shape[1]
            z = self.prior_z(batch * steps, first_frame.shape[-2:], first_frame, z_mode, generator)
            frames, _ = self._decode_at_once(pose, z.reshape(batch, steps, *z.shape[1:]), anchor, first_frame)
            out[:, start:start + steps] = frames.to(out.dtype)
        return out

    def forward(self, frames, poses, teacher_forcing=False, eps=None, with_parts=False):
        """Training pass over a clip; arguments and returns as :meth:`modules.vae.VAE_Model.forward`
        (mu, logvar are (B, T-1, N_dim, H/4, W/4)), except that ``teacher_forcing`` changes nothing (no
        frame is decoded from the one before); ``with_parts``: also return the composite head's parts,
        each (B, T-1, ...)."""
        frame_features = self.encode(self.frame_transformation, frames)
        pose_features = self.encode(self.label_transformation, poses)
        mu, logvar = self.posterior(frame_features[-1][:, 1:], pose_features[-1][:, 1:])
        z = reparameterize(mu, logvar, eps)
        anchor = ([f[:, 0] for f in frame_features], [f[:, 0] for f in pose_features])
        pred, parts = self._decode_at_once([f[:, 1:] for f in pose_features], z, anchor, frames[:, 0])
        return (pred, mu, logvar, parts) if with_parts else (pred, mu, logvar)

    def _decode_at_once(self, pose, z, anchor, first_frame):
        """Every step in one decoder call, the (B, T-1) steps folded into the batch: ``pose`` holds
        feature lists of (B, T-1, ...), ``anchor`` those of frame 0 and pose 0, repeated per step."""
        batch, steps = z.shape[:2]
        folded_pose = [f.reshape(batch * steps, *f.shape[2:]) for f in pose]
        repeated = tuple([f.repeat_interleave(steps, dim=0) for f in features] for features in anchor)
        pred, parts = self.decode(folded_pose, z.reshape(batch * steps, *z.shape[2:]), repeated,
                                  first_frame.repeat_interleave(steps, dim=0))

        def unfold(x):
            return x.reshape(batch, steps, *x.shape[1:])
        return unfold(pred), {key: unfold(value) for key, value in parts.items()}


def _cat_channels(parts, layout):
    """``torch.cat(parts, dim=1)`` in memory format ``layout``. The parts are slices and repeats of
    clip features, which a cat writes in NCHW; under channels_last the next conv would then convert the
    (up to 96-channel, full-resolution) result forward and its gradient backward: ~10% of a training
    step on 2 CPU cores, where converting the narrow parts first costs ~1%."""
    return torch.cat([part.contiguous(memory_format=layout) for part in parts], dim=1)


def _layout_of(module):
    """The memory format ``module`` was converted to: its first k x k (k > 1) conv weight's."""
    weight = next(w for w in module.parameters() if w.dim() == 4 and w.shape[-1] > 1)
    return torch.contiguous_format if weight.is_contiguous() else torch.channels_last


def _check_size(video):
    height, width = video.shape[-2:]
    if height % SCALE or width % SCALE:
        raise ValueError(f"--arch pyramid needs frame sizes divisible by {SCALE}, got {height}x{width}")

