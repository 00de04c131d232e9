"""The output head of ``--arch pyramid``: how the generator's last features become a frame.

Candidates that copy pixels, mixed by a per-pixel softmax selection (weights sum to 1), as
CDNA/SAVP, Monkey-Net and FOMM build frames:

    frame = w_first * frame_0 + w_warped * warp(frame_0, flow) + w_scratch * scratch

- ``frame_0`` unmoved: the static studio, copied exactly;
- ``warp(frame_0, flow)``: frame 0 sampled at ``p + flow(p)`` (backward warp; black outside the
  frame), so a moved dancer keeps its colours; the flow is predicted at 1/4 resolution and
  upsampled (coarse motion);
- ``scratch``: an image generated from the features, for what frame 0 never showed (the studio
  behind the old dancer).

Why not ``sigmoid(logit(frame_0) + change)`` (the head this replaced, docs/history.md): to move the
dancer it must erase the old one and repaint the new one from regressed colours; under MSE an
uncertain erase is a half-erase, a ghost where the dancer stood.

Anti-collapse choices: zero-initialised flow (identity warp) and scratch; selection logits
zero-weighted with a bias toward the two copies of frame 0, so an untrained model starts near the
copy baseline; the scratch gets a loss of its own (:func:`modules.objective.candidate_loss`) so it
stays a whole image before the selection uses it; black outside the frame for the warp (:func:`warp`).

Shapes: features (N, C, H, W), coarse features (N, C', H/4, W/4), frames (N, 3, H, W) in [0, 1].
"""
import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv3x3

CANDIDATES = ("first", "warped", "scratch")
# Selection-logit bias at init: frame 0 and its (identity) warp share ~94% of the weight.
COPY_BIAS = 2.0
# The flow conv predicts in pixels of the 1/4-resolution level (4 pixels of the frame each), so
# the motions of a dancer (tens of pixels) are reached with small weights.
FLOW_UNIT = 4.0


class CompositeHead(nn.Module):
    """Selection among (frame 0, frame 0 warped, scratch); see the module docstring."""

    def __init__(self, width, coarse_width):
        super().__init__()
        self.select = conv3x3(width, len(CANDIDATES))
        self.scratch = conv3x3(width, 3)
        self.flow = conv3x3(coarse_width, 2)
        self.reset()

    def reset(self):
        for conv in (self.select, self.scratch, self.flow):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        with torch.no_grad():
            self.select.bias[:2] = COPY_BIAS

    def forward(self, features, coarse, first_frame):
        """-> (frame (N, 3, H, W) float32, parts): ``parts`` holds the ``weights`` (N, 3, H, W) of
        CANDIDATES, the ``flow`` (N, 2, H, W) in pixels (x, y), and the ``warped`` and ``scratch``
        candidates (N, 3, H, W), all float32."""
        first = first_frame.float()
        size = first.shape[-2:]
        flow = F.interpolate(FLOW_UNIT * self.flow(coarse).float(), size=size, mode="bilinear",
                             align_corners=False)
        warped = warp(first, flow)
        scratch = torch.sigmoid(self.scratch(features).float())
        weights = torch.softmax(self.select(features).float(), dim=1)
        frame = weights[:, 0:1] * first + weights[:, 1:2] * warped + weights[:, 2:3] * scratch
        return frame, {"weights": weights, "flow": flow, "warped": warped, "scratch": scratch}


def warp(image, flow):
    """Backward warp: ``out[p] = image[p + flow[p]]``, bilinear; zeros (black) outside the image.

    image (N, C, H, W); flow (N, 2, H, W) in pixels, channel 0 along x (width), 1 along y. Not the
    border repeated: with it, a flow pointing off the frame copies the studio's edge, a ready-made
    studio plate for the vacated region, and the flow ran off to ~60 px on the dancer in one of two
    seeds; black off the frame is never the studio (docs/quality.md)."""
    n, _, height, width = image.shape
    ys = torch.arange(height, device=image.device, dtype=flow.dtype)
    xs = torch.arange(width, device=image.device, dtype=flow.dtype)
    x = xs.view(1, 1, width) + flow[:, 0]
    y = ys.view(1, height, 1) + flow[:, 1]
    # Pixel centres to grid_sample's normalised coordinates (align_corners=False).
    grid = torch.stack([(2 * x + 1) / width - 1, (2 * y + 1) / height - 1], dim=-1)
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="zeros",
                         align_corners=False)


# -- what the selection does, for the training log ---------------------------------------------------
DIAGNOSTICS = ("first_weight_vacated", "flow_on_dancer")


def selection_stats(parts, frames):
    """Sums behind DIAGNOSTICS on a training clip ``frames`` (B, T, 3, H, W), with ``parts`` of its
    predicted frames 1..T-1 (:class:`CompositeHead`): a float64 tensor (4,) = (weight of the unmoved
    frame 0 summed over the vacated pixels, their count, flow magnitude in pixels summed over the
    dancer's pixels, their count); zeros for a head without a selection.

    The vacated pixels (the old dancer's place, now studio: the weight should fall toward 0) and the
    dancer (the flow should not stay 0) are found against the clip's per-pixel median, as the
    vacated-region metric finds them against the whole video's (modules.eval.metrics)."""
    if "weights" not in parts:
        return torch.zeros(4, dtype=torch.float64, device=frames.device)
    vacated, dancer = clip_masks(frames)
    first_weight = parts["weights"][:, :, 0].detach()
    flow = parts["flow"].detach().norm(dim=2)
    stats = [first_weight[vacated].sum(), vacated.sum(), flow[dancer].sum(), dancer.sum()]
    return torch.stack([s.double() for s in stats])  # on the frames' device: no sync per batch


def clip_masks(frames):
    """(B, T, 3, H, W) clip -> (vacated, dancer) masks of frames 1..T-1, each (B, T-1, H, W) bool,
    against the clip's per-pixel median: vacated = every channel within 0.05 of it where frame 0 was
    more than 0.1 from it in some channel; dancer = more than 0.1 from it in some channel."""
    frames = frames.float()
    background = frames.median(dim=1, keepdim=True).values
    off_target = (frames[:, 1:] - background).abs().amax(dim=2)
    off_first = (frames[:, :1] - background).abs().amax(dim=2)
    return (off_target < 0.05) & (off_first > 0.1), off_target > 0.1


def diagnostics(stats):
    """Means of DIAGNOSTICS from summed :func:`selection_stats` (NaN where nothing was counted)."""
    first, vacated, flow, dancer = stats.cpu().tolist()
    return {"first_weight_vacated": first / vacated if vacated else float("nan"),
            "flow_on_dancer": flow / dancer if dancer else float("nan")}
