"""PyramidVAE: the course's CVAE wiring on multi-scale networks (``--arch pyramid``).

The same five networks under the template's names (frame encoder, label encoder, Gaussian
predictor, decoder fusion, generator) and the same interface as :class:`~modules.vae.VAE_Model`,
but the encoders downsample to 1/2 and 1/4 resolution and the generator comes back up with skip
connections (as in SVG and SRVP), so a 3x3 conv at the bottom spans 12 pixels of the frame and the
networks reach across the stage at a fraction of the template's full-resolution FLOPs.

What the decoder sees: the previous frame (the template's input), pose t, and also the video's
first frame and its pose, so it knows what to erase (the first frame's dancer) as well as what to
draw. With ``prev_input="first"`` (``--prev_input first``) frame 0 stands in for the previous frame:
frame t then follows from frame 0 and the poses alone, no error of the model is fed back into the
next step, and the training pass and the rollout decode every frame at once (docs/quality.md). Its output is anchored on the first frame, as ``--output_mode anchored`` is::

    frame_t = sigmoid(logit(frame_0) + Generator(...))

with the Generator's last conv zeroed: an untrained model copies frame 0 (the copy baseline), the
static scene never has to be redrawn, and where nothing moves the optimum (a zero change) is
reached exactly. (A mask blending a generated image over frame 0 has its optimum there only at a
mask logit of minus infinity: trained at batch 8, its logits ran off to -800 and the model froze
as a copy of frame 0.)

Shapes: frames and poses (B, T, 3, H, W) in [0, 1] with H, W divisible by 4; features are lists
finest first, level k at (H / 2^k, W / 2^k); the latent is (B, N_dim, H / 4, W / 4).
"""
import torch
import torch.nn.functional as F
from torch import nn

from .composite import make_head
from .config import PREV_INPUTS
from .layers import ResidualBlock, conv1x1, conv3x3
from .objective import reparameterize, soft_clamp_logvar
from .vae import POSE_CHUNK, forcing_mask, latent_like, scaled_init_

LEVELS = 3  # full, 1/2 and 1/4 resolution
SCALE = 2 ** (LEVELS - 1)
SLOPE = 0.01


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


class AnchorAttention(nn.Module):
    """Look up the first frame's appearance where pose 0 matches pose t, at 1/4 resolution.

    Queries come from pose t and the previous frame, keys from pose 0 and the first frame (the
    label colours name the limbs, so a forearm in pose t finds the forearm of pose 0), values from
    the first frame: each position can get the features of the matching body part of frame 0 however
    far it stood, meant to copy a new dancer's colours rather than memorise the training dancers'
    (measured: no gain in 8 epochs, docs/quality.md; off by default). (N, C, h, w) -> (N, out_ch, h, w).
    """

    def __init__(self, query_ch, key_ch, value_ch, out_ch, key_dim=32):
        super().__init__()
        self.query = conv1x1(query_ch, key_dim)
        self.key = conv1x1(key_ch, key_dim)
        self.value = conv1x1(value_ch, out_ch)
        self.scale = key_dim ** -0.5

    def forward(self, query, key, value):
        q = self.query(query).flatten(2).transpose(1, 2)  # (N, hw, d)
        k = self.key(key).flatten(2)  # (N, d, hw)
        v = self.value(value).flatten(2).transpose(1, 2)  # (N, hw, out)
        weights = torch.softmax(torch.bmm(q, k).float() * self.scale, dim=-1).to(v.dtype)
        out = torch.bmm(weights, v).transpose(1, 2)
        return out.reshape(out.shape[0], out.shape[1], *query.shape[-2:])


class PyramidFusion(nn.Module):
    """Coarsest features of (previous frame, pose t, first frame, pose 0) and z -> (N, D, H/4, W/4).

    ``anchor_mean``: also the first frame's features averaged over the frame (its colours, seen
    from everywhere); ``anchor_attention``: also an :class:`AnchorAttention` lookup of the first frame.
    """

    def __init__(self, frame_ch, pose_ch, n_dim, out_ch, anchor_mean=True, anchor_attention=False):
        super().__init__()
        in_ch = 2 * frame_ch + 2 * pose_ch + n_dim + frame_ch * (int(anchor_mean) + int(anchor_attention))
        self.anchor_mean = anchor_mean
        self.attention = None
        if anchor_attention:
            self.attention = AnchorAttention(frame_ch + pose_ch, frame_ch + pose_ch, frame_ch, frame_ch)
        self.merge = nn.Sequential(conv1x1(in_ch, out_ch), _act())
        self.blocks = nn.Sequential(ResidualBlock(out_ch, out_ch, leaky_relu_slope=SLOPE),
                                    ResidualBlock(out_ch, out_ch, leaky_relu_slope=SLOPE))

    def forward(self, prev, pose, first, pose0, z):
        inputs = [prev, pose, first, pose0, z.to(prev.dtype)]
        if self.anchor_mean:
            inputs.append(first.mean(dim=(-2, -1), keepdim=True).expand_as(first))
        if self.attention is not None:
            inputs.append(self.attention(torch.cat([pose, prev], dim=1), torch.cat([pose0, first], dim=1), first))
        return self.blocks(self.merge(_cat_channels(inputs, _layout_of(self.blocks))))


class PyramidGenerator(nn.Module):
    """Fused coarse features + per-level skips + the first frame -> (frame (N, 3, H, W), parts).

    ``skip_widths[k]``: channels of the skip features concatenated in at level k (k < LEVELS - 1);
    ``head``: the output head (:mod:`modules.composite`), whose ``parts`` are returned as they are.
    """

    def __init__(self, in_ch, skip_widths, width, head="anchored"):
        super().__init__()
        widths = level_widths(width)
        self.merges = nn.ModuleList()
        self.blocks = nn.ModuleList()
        below = in_ch
        for k in reversed(range(LEVELS - 1)):
            self.merges.append(nn.Sequential(conv1x1(below + skip_widths[k], widths[k]), _act()))
            self.blocks.append(ResidualBlock(widths[k], widths[k], leaky_relu_slope=SLOPE))
            below = widths[k]
        self.head = make_head(head, below, in_ch)

    def reset_head(self):
        """The head's start: the output is (close to) the first frame."""
        self.head.reset()

    def forward(self, fused, skips, first_frame):
        h = fused
        for merge, block, skip in zip(self.merges, self.blocks, reversed(skips)):
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(merge(torch.cat([h, skip], dim=1)))
        return self.head(h, fused, first_frame)


class PyramidVAE(nn.Module):
    """The CVAE of :mod:`modules.vae` on multi-scale networks; see the module docstring.

    Args (the template's width flags, read per level): F_dim, L_dim: channels of the frame and pose
    encoders at 1/4 resolution (half and a quarter of that above); N_dim: latent channels at 1/4
    resolution; D_out_dim: channels of the fusion at 1/4 resolution (the generator narrows to
    D_out_dim / 2 and / 4 on the way up); anchor_mean, anchor_attention: see :class:`PyramidFusion`;
    output_head: ``anchored`` or ``composite`` (:mod:`modules.composite`); prev_input: what the decoder
    takes as the previous frame: ``previous`` (the template's recursion) or ``first`` (frame 0 for every
    step, so frame t depends on frame 0 and the poses only: nothing the model got wrong is fed back, and
    the training pass and the rollout decode all frames at once).
    """

    def __init__(self, F_dim=64, L_dim=32, N_dim=8, D_out_dim=96, anchor_mean=True, anchor_attention=False,
                 output_head="anchored", prev_input="previous"):
        super().__init__()
        if prev_input not in PREV_INPUTS:
            raise ValueError(f"prev_input must be one of {PREV_INPUTS}, got {prev_input!r}")
        self.N_dim = N_dim
        self.prev_input = prev_input
        self.frame_transformation = PyramidEncoder(3, F_dim)
        self.label_transformation = PyramidEncoder(3, L_dim)
        frame_w, pose_w = self.frame_transformation.widths, self.label_transformation.widths
        self.Gaussian_Predictor = PyramidGaussianPredictor(frame_w[-1], pose_w[-1], N_dim)
        self.Decoder_Fusion = PyramidFusion(frame_w[-1], pose_w[-1], N_dim, D_out_dim, anchor_mean,
                                            anchor_attention)
        skip_widths = [2 * f + 2 * p for f, p in zip(frame_w, pose_w)]
        self.Generator = PyramidGenerator(D_out_dim, skip_widths[:-1], D_out_dim, head=output_head)
        scaled_init_(self)
        self.Generator.reset_head()

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

    def decode(self, prev, pose, z, anchor, first_frame):
        """One step for a (N, ...) batch: feature lists of the previous frame and pose t, the latent,
        ``anchor`` = feature lists of (first frame, pose 0), and the first frame (N, 3, H, W).
        Returns (frame (N, 3, H, W) float32, the output head's parts: {} or (N, ...) tensors)."""
        first, pose0 = anchor
        fused = self.Decoder_Fusion(prev[-1], pose[-1], first[-1], pose0[-1], z)
        layout = _layout_of(self.Generator)
        skips = [_cat_channels(parts, layout) for parts in zip(prev[:-1], pose[:-1], first[:-1], pose0[:-1])]
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
        the first frame's pose). Returns (B, T, 3, H, W) with frame 0 = ``first_frame``."""
        batch, length = poses.shape[:2]
        if out is None:
            out = first_frame.new_empty(batch, length, *first_frame.shape[1:])
        out[:, 0] = first_frame
        anchor = self.anchor(first_frame, poses[:, 0])
        if self.prev_input == "first":
            return self._rollout_from_first(anchor, first_frame, poses, z_mode, generator, out)
        frame = first_frame
        for t in range(1, length):
            if (t - 1) % POSE_CHUNK == 0:
                chunk = self.encode(self.label_transformation, poses[:, t:t + POSE_CHUNK])
            pose = [f[:, (t - 1) % POSE_CHUNK] for f in chunk]
            z = self.prior_z(batch, frame.shape[-2:], frame, z_mode, generator)
            frame, _ = self.decode(self.encode(self.frame_transformation, frame), pose, z, anchor, first_frame)
            out[:, t] = frame.to(out.dtype)
        return out

    def _rollout_from_first(self, anchor, first_frame, poses, z_mode, generator, out):
        """--prev_input first: no recursion, so POSE_CHUNK frames per decoder call."""
        batch, length = poses.shape[:2]
        for start in range(1, length, POSE_CHUNK):
            pose = self.encode(self.label_transformation, poses[:, start:start + POSE_CHUNK])
            steps = pose[0].shape[1]
            z = self.prior_z(batch * steps, first_frame.shape[-2:], first_frame, z_mode, generator)
            frames, _ = self._decode_at_once(None, pose, z.reshape(batch, steps, *z.shape[1:]), anchor, first_frame)
            out[:, start:start + steps] = frames.to(out.dtype)
        return out

    def forward(self, frames, poses, teacher_forcing, eps=None, with_parts=False):
        """Training pass over a clip; arguments and returns as :meth:`modules.vae.VAE_Model.forward`
        (mu, logvar are (B, T-1, N_dim, H/4, W/4)); ``with_parts``: also return the output head's
        parts, each (B, T-1, ...) (:mod:`modules.composite`; {} for the anchored head)."""
        steps = frames.shape[1] - 1
        forced = forcing_mask(teacher_forcing, steps)
        frame_features = self.encode(self.frame_transformation, frames)
        pose_features = self.encode(self.label_transformation, poses)
        mu, logvar = self.posterior(frame_features[-1][:, 1:], pose_features[-1][:, 1:])
        z = reparameterize(mu, logvar, eps)
        anchor = ([f[:, 0] for f in frame_features], [f[:, 0] for f in pose_features])
        if self.prev_input == "first":
            pred, parts = self._decode_at_once(None, [f[:, 1:] for f in pose_features], z, anchor, frames[:, 0])
        elif all(forced):
            pred, parts = self._decode_at_once([f[:, :steps] for f in frame_features],
                                               [f[:, 1:] for f in pose_features], z, anchor, frames[:, 0])
        else:
            pred, parts = self._decode_free_running(frame_features, pose_features, z, anchor, frames[:, 0], forced)
        return (pred, mu, logvar, parts) if with_parts else (pred, mu, logvar)

    def _decode_free_running(self, frame_features, pose_features, z, anchor, first_frame, forced):
        """Step after step; where not ``forced``, from the model's own previous frame."""
        steps = []
        for t in range(z.shape[1]):
            if forced[t] or t == 0:
                prev = [f[:, t] for f in frame_features]
            else:
                prev = self.encode(self.frame_transformation, steps[-1][0])
            steps.append(self.decode(prev, [f[:, t + 1] for f in pose_features], z[:, t], anchor, first_frame))
        frames, parts = zip(*steps)
        return torch.stack(frames, dim=1), {key: torch.stack([p[key] for p in parts], dim=1) for key in parts[0]}

    def _decode_at_once(self, prev, pose, z, anchor, first_frame):
        """Every step in one decoder call, the (B, T-1) steps folded into the batch: ``prev`` and ``pose``
        are feature lists of (B, T-1, ...) (teacher forcing: the true previous frames), ``prev`` None for
        --prev_input first (frame 0's features, repeated once for both of the decoder's inputs)."""
        batch, steps = z.shape[:2]

        def fold(features):
            return [f.reshape(batch * steps, *f.shape[2:]) for f in features]

        def repeat(features):
            return [f.repeat_interleave(steps, dim=0) for f in features]

        def unfold(x):
            return x.reshape(batch, steps, *x.shape[1:])

        first = repeat(anchor[0])
        pred, parts = self.decode(first if prev is None else fold(prev), fold(pose),
                                  z.reshape(batch * steps, *z.shape[2:]), (first, repeat(anchor[1])),
                                  first_frame.repeat_interleave(steps, dim=0))
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

