"""VAE_Model: the course's pose-conditioned CVAE as a pure nn.Module.

Video tensors are (B, T, C, H, W) with values in [0, 1]; frames (B, C, H, W). ``poses[:, t]`` is
the pose of ``frames[:, t]``; frame t is predicted from frame t-1, pose t and a latent z_t of
shape (B, N_dim, H, W).
"""
from dataclasses import dataclass

import torch
from torch import nn

from .layers import POSE_CHUNK, latent_like, scaled_init_
from .modules import (INTENDED_LEAKY_SLOPE, TEMPLATE_LEAKY_SLOPE, Decoder_Fusion, Gaussian_Predictor,
                      Generator, Label_Encoder, RGB_Encoder)
from .objective import reparameterize, soft_clamp_logvar

OUTPUT_MODES = ("template", "anchored")
# Frames are clamped away from 0 and 1 before the logit of the anchored output.
LOGIT_EPS = 1e-3


@dataclass(frozen=True)
class TemplateConfig:
    """What a :class:`VAE_Model` is: the template's widths and our two options (see the class)."""
    F_dim: int = 128
    L_dim: int = 32
    N_dim: int = 12
    D_out_dim: int = 192
    fix_leaky_relu: bool = False
    output_mode: str = "template"


class VAE_Model(nn.Module):
    """The five template networks plus the wiring between them.

    Args (the fields of :class:`TemplateConfig`):
        F_dim, L_dim, N_dim, D_out_dim: widths of frame features, pose features, latent, fusion.
        fix_leaky_relu: use LeakyReLU(0.01) where the template's ``nn.LeakyReLU(True)`` is the
            identity. Off by default so template checkpoints give the template's outputs.
        output_mode: ``template``: frame = sigmoid(Generator(...)), PyTorch's init. ``anchored``:
            frame = sigmoid(logit(first frame) + Generator(...)) (like SVG's skip connections from
            the last observed frame), with the Generator's last conv zeroed, so an untrained model
            copies frame 0 and what the network adds is not integrated over a long rollout; its
            convs start at variance 1/fan_in with the last conv of each residual branch zeroed, so
            the image signal reaches the output at its own scale instead of shrinking ~10x through
            the stacked blocks (with PyTorch's init every run settled on the mean frame). Same
            parameters (and state_dict) in both modes.
    """

    def __init__(self, F_dim=128, L_dim=32, N_dim=12, D_out_dim=192, fix_leaky_relu=False,
                 output_mode="template"):
        super().__init__()
        if N_dim < 4:
            raise ValueError(f"N_dim must be >= 4 (Gaussian_Predictor has N_dim // 4 channels), got {N_dim}")
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {OUTPUT_MODES}, got {output_mode!r}")
        self.config = TemplateConfig(F_dim, L_dim, N_dim, D_out_dim, fix_leaky_relu, output_mode)
        slope = INTENDED_LEAKY_SLOPE if fix_leaky_relu else TEMPLATE_LEAKY_SLOPE
        self.output_mode = output_mode
        self.N_dim = N_dim
        self.frame_transformation = RGB_Encoder(3, F_dim)
        self.label_transformation = Label_Encoder(3, L_dim, leaky_slope=slope)
        self.Gaussian_Predictor = Gaussian_Predictor(F_dim + L_dim, N_dim, leaky_slope=slope)
        self.Decoder_Fusion = Decoder_Fusion(F_dim + L_dim + N_dim, D_out_dim)
        self.Generator = Generator(input_nc=D_out_dim, output_nc=3)
        if output_mode == "anchored":
            scaled_init_(self)
            nn.init.zeros_(self.Generator[-1].weight)
            nn.init.zeros_(self.Generator[-1].bias)

    # -- the parts ---------------------------------------------------------------------------
    def encode_poses(self, poses):
        """(B, T, 3, H, W) -> (B, T, L, H, W).

        In training mode the Label_Encoder's BatchNorm sees one frame (B samples) per call, as in
        the template's frame-by-frame step, so its statistics and running averages match it.
        """
        if self.training:
            return _time_major([self.label_transformation(poses[:, t]) for t in range(poses.shape[1])])
        return _per_frame(self.label_transformation, poses)

    def posterior(self, frame_features, pose_features):
        """q(z | frame t, pose t): features (..., C, H, W) -> (mu, logvar), each (..., N, H, W).

        mu and logvar are float32 even under autocast, so the logvar clamp, exp(0.5 * logvar) of
        the reparameterisation and the KL run in full precision.
        """
        params = _per_frame(lambda f, p: torch.cat(self.Gaussian_Predictor(f, p), dim=1),
                            frame_features, pose_features)
        mu, logvar = params.float().chunk(2, dim=-3)
        return mu, soft_clamp_logvar(logvar)

    def decode(self, prev_features, pose_features, z, first_frames):
        """Predict frames from the previous frame's features, the pose features and z.

        Arguments are (..., C, H, W) with matching leading dims (``first_frames`` may broadcast:
        (B, 1, 3, H, W) for (B, T, ...)); the first frames are used only by the anchored output
        mode. Returns frames in [0, 1].
        """
        logits = _per_frame(lambda *x: self.Generator(self.Decoder_Fusion(*x)),
                            prev_features, pose_features, z)
        if self.output_mode == "anchored":
            return anchored_output(logits, first_frames)
        return torch.sigmoid(logits)

    # -- one step and a rollout ----------------------------------------------------------------
    def step(self, prev_frame, pose, target=None, z=None, first_frame=None):
        """One prediction step on (B, 3, H, W) tensors.

        z: given, or sampled from the posterior q(z | target, pose) when ``target`` is given,
        else from the prior N(0, I). ``first_frame``: the video's first frame, needed by the
        anchored output mode. Returns (frame, mu, logvar); mu/logvar are None without ``target``.
        """
        if self.output_mode == "anchored" and first_frame is None:
            raise ValueError("the anchored output mode needs the video's first_frame")
        pose_features = self.label_transformation(pose)
        mu = logvar = None
        if target is not None:
            mu, logvar = self.posterior(self.frame_transformation(target), pose_features)
            if z is None:
                z = reparameterize(mu, logvar)
        if z is None:
            z = self.prior_z(prev_frame.shape[0], prev_frame.shape[-2:], prev_frame)
        frame = self.decode(self.frame_transformation(prev_frame), pose_features, z, first_frame)
        return frame, mu, logvar

    def prior_z(self, batch_size, size, like, z_mode="prior", generator=None):
        """Latent for a rollout step: N(0, I) samples (``prior``) or zeros (``zero``)."""
        return latent_like((batch_size, self.N_dim, *size), like, z_mode, generator)

    def rollout(self, first_frame, poses, z_mode="prior", generator=None, out=None):
        """Generate a video autoregressively from its first frame and its poses.

        Args:
            first_frame: (B, 3, H, W) in [0, 1].
            poses: (B, T, 3, H, W); ``poses[:, 0]`` (the first frame's pose) is not used.
            z_mode: ``prior`` (z ~ N(0, I), the course's test protocol) or ``zero``.
            generator: optional torch.Generator for the prior samples.
            out: optional (B, T, 3, H, W) tensor to write into (e.g. on another device).
        Returns: (B, T, 3, H, W) frames; frame 0 is ``first_frame``.

        The posterior is never computed, poses are encoded in batched calls of POSE_CHUNK steps
        ahead, and videos of the batch are generated together.
        """
        batch, length = poses.shape[:2]
        if out is None:
            out = first_frame.new_empty(batch, length, *first_frame.shape[1:])
        out[:, 0] = first_frame
        frame = first_frame
        for t in range(1, length):
            if (t - 1) % POSE_CHUNK == 0:
                pose_features = self.encode_poses(poses[:, t:t + POSE_CHUNK])
            z = self.prior_z(batch, frame.shape[-2:], frame, z_mode, generator)
            frame = self.decode(self.frame_transformation(frame), pose_features[:, (t - 1) % POSE_CHUNK], z,
                                first_frame)
            out[:, t] = frame
        return out

    # -- training pass -------------------------------------------------------------------------
    def forward(self, frames, poses, teacher_forcing, eps=None, with_parts=False):
        """Training pass over a clip, predicting frames 1..T-1 with posterior latents.

        Args:
            frames, poses: (B, T, 3, H, W) ground truth and poses.
            teacher_forcing: True: step t starts from ground-truth frame t-1; False: from the
                model's own frame t-1 (free-running; step 1 from the true frame 0).
            eps: optional (B, T-1, N, H, W) noise for the reparameterisation (tests pass it to
                compare formulations); drawn from N(0, I) otherwise.
            with_parts: also return the output's parts (as PyramidVAE does): {} here.
        Returns: (pred (B, T-1, 3, H, W), mu, logvar (B, T-1, N, H, W)) [+ parts].

        Every ground-truth frame is encoded once (it is both step t's posterior target and step
        t+1's teacher-forced input), poses and posteriors of the whole clip are computed in
        batched calls, and under teacher forcing so is the decoder; free-running steps run
        one after another.
        """
        frame_features = _per_frame(self.frame_transformation, frames)
        pose_features = self.encode_poses(poses[:, 1:])
        mu, logvar = self.posterior(frame_features[:, 1:], pose_features)
        z = reparameterize(mu, logvar, eps)
        if teacher_forcing:
            pred = self.decode(frame_features[:, :-1], pose_features, z, frames[:, :1])
        else:
            pred = self._decode_free_running(frames, frame_features, pose_features, z)
        return (pred, mu, logvar, {}) if with_parts else (pred, mu, logvar)

    def _decode_free_running(self, frames, frame_features, pose_features, z):
        """Step after step, each from the model's own previous frame (the first from frame 0)."""
        preds = []
        for t in range(z.shape[1]):
            prev_features = frame_features[:, 0] if t == 0 else self.frame_transformation(preds[-1])
            preds.append(self.decode(prev_features, pose_features[:, t], z[:, t], frames[:, 0]))
        return torch.stack(preds, dim=1)


def anchored_output(change, base):
    """``sigmoid(logit(base) + change)``: frames that start as ``base`` (for a zero change)."""
    return torch.sigmoid(torch.logit(base.clamp(LOGIT_EPS, 1 - LOGIT_EPS)) + change)


def _per_frame(fn, *videos):
    """Apply an image network to (B, T, C, H, W) tensors by folding T into the batch, time-major.

    The result is a (B, T, ...) view of time-major storage: each frame ``[:, t]`` is one
    contiguous (channels_last) batch, so the free-running steps take theirs without a copy, and a
    slice ``[:, a:b]`` folds into a batch again as a view. (Folding batch-major, the slices the
    posterior and decoder take would be copied to NCHW and converted back by the first conv.)
    (B, C, H, W) inputs are passed through unchanged.
    """
    if videos[0].dim() == 4:
        return fn(*videos)
    batch, length = videos[0].shape[:2]
    out = fn(*(v.transpose(0, 1).reshape(length * batch, *v.shape[2:]) for v in videos))
    return out.reshape(length, batch, *out.shape[1:]).transpose(0, 1)


def _time_major(frames):
    """T (B, ...) tensors -> a (B, T, ...) view of time-major storage, as :func:`_per_frame` returns."""
    return torch.cat(frames).reshape(len(frames), *frames[0].shape).transpose(0, 1)
