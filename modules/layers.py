"""Building blocks of the course template's networks.

The structure (and so the state_dict keys) is fixed by the course; only options are passed by
keyword here. Every layer keeps the full 32x64 resolution (no striding anywhere).

The forwards compute what the template's compute (to float rounding: the test compares them with
``bench/template_reference.py``'s straightforward versions) with fewer full-size memory passes,
which are ~30% of a training step on the CPU: activations are applied in place to conv outputs
(a conv's backward needs its input, never its output), residual sums are written into a fresh
conv output, and ConvFFN runs its 1x1 conv as two convs on the weight's halves instead of one
conv and a ``chunk`` (whose backward concatenates the two 4x-wide gradients again).
"""
import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(in_ch, out_ch):
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1)


def conv1x1(in_ch, out_ch):
    return nn.Conv2d(in_ch, out_ch, kernel_size=1)


def leaky_relu(slope):
    """In place: every LeakyReLU of the networks follows a conv, a BatchNorm or a residual sum,
    none of which keeps its output for backward. (A LeakyReLU's own backward then reads the sign
    from its output, which is the input's sign for a slope >= 0, as here.)"""
    return nn.LeakyReLU(negative_slope=slope, inplace=True)


def add_residual(fresh, other):
    """``fresh + other``, written into ``fresh`` (a conv output no backward keeps) when the result
    has its shape and dtype; otherwise (broadcasting, or an fp32 identity beside a bf16 branch
    under autocast, which promotes) a new tensor, exactly as ``+`` would give."""
    if fresh.shape == other.shape and torch.promote_types(fresh.dtype, other.dtype) == fresh.dtype:
        return fresh.add_(other)
    return fresh + other


class ResidualBlock(nn.Module):
    """Two 3x3 convs with LeakyReLU(0.01); a 1x1 skip when the channel count changes."""

    def __init__(self, in_ch, out_ch, leaky_relu_slope=0.01):
        super().__init__()
        self.conv1 = conv3x3(in_ch, out_ch)
        self.conv2 = conv3x3(out_ch, out_ch)
        self.leaky_relu = leaky_relu(leaky_relu_slope)
        self.skip = conv1x1(in_ch, out_ch) if in_ch != out_ch else None

    def forward(self, x):
        out = self.leaky_relu(self.conv1(x))
        out = self.leaky_relu(self.conv2(out))  # kept by its own backward: not added into
        if self.skip is None:
            return out + x
        return add_residual(self.skip(x), out)

    @property
    def last_branch_conv(self):
        return self.conv2


class DepthConv(nn.Module):
    """1x1 conv, LeakyReLU, depthwise kxk conv, 1x1 conv; residual (1x1 adaptor if channels change)."""

    def __init__(self, in_ch, out_ch, depth_kernel=3, slope=0.01):
        super().__init__()
        self.conv1 = nn.Sequential(conv1x1(in_ch, in_ch), leaky_relu(slope))
        self.depth_conv = nn.Conv2d(in_ch, in_ch, kernel_size=depth_kernel,
                                    padding=depth_kernel // 2, groups=in_ch)
        self.conv2 = conv1x1(in_ch, out_ch)
        self.adaptor = conv1x1(in_ch, out_ch) if in_ch != out_ch else None

    def forward(self, x):
        identity = x if self.adaptor is None else self.adaptor(x)
        return add_residual(self.conv2(self.depth_conv(self.conv1(x))), identity)

    @property
    def last_branch_conv(self):
        return self.conv2


class ConvFFN(nn.Module):
    """Gated feed-forward: 1x1 up to 4x, half gates the other half through LeakyReLU(0.1), 1x1 down.

    ``conv`` holds both halves (the template's parameters), but each half is its own conv over a
    slice of the weight, so no ``chunk`` of the 4x-wide output (and no ``cat`` of its gradient).
    """

    def __init__(self, in_ch, slope=0.1):
        super().__init__()
        hidden_ch = max(min(in_ch * 4, 1024), in_ch * 2)
        self.conv = conv1x1(in_ch, hidden_ch)
        self.conv_out = conv1x1(hidden_ch // 2, in_ch)
        self.relu = leaky_relu(slope)

    def forward(self, x):
        half = self.conv.out_channels // 2
        weight, bias = self.conv.weight, self.conv.bias
        value = F.conv2d(x, weight[:half], bias[:half])
        gate = self.relu(F.conv2d(x, weight[half:], bias[half:]))
        return add_residual(self.conv_out(value * gate), x)

    @property
    def last_branch_conv(self):
        return self.conv_out


class DepthConvBlock(nn.Module):
    def __init__(self, in_ch, out_ch, depth_kernel=3, slope_depth_conv=0.01, slope_ffn=0.1):
        super().__init__()
        self.block = nn.Sequential(
            DepthConv(in_ch, out_ch, depth_kernel=depth_kernel, slope=slope_depth_conv),
            ConvFFN(out_ch, slope=slope_ffn),
        )

    def forward(self, x):
        return self.block(x)


# -- shared by both models (modules.vae and modules.pyramid) ------------------------------------------
# Rollouts encode the poses of this many steps at a time: batched, with bounded memory (all 5 x 630
# test poses at once would hold ~3 GB of activations at the template's widths).
POSE_CHUNK = 64
Z_MODES = ("prior", "zero")


def latent_like(shape, like, z_mode="prior", generator=None):
    """A rollout's latent of ``shape`` on ``like``'s device and dtype: N(0, I) (``prior``) or zeros."""
    if z_mode == "zero":
        return torch.zeros(shape, device=like.device, dtype=like.dtype)
    if z_mode == "prior":
        return torch.randn(shape, device=like.device, dtype=like.dtype, generator=generator)
    raise ValueError(f"z_mode must be one of {Z_MODES}, got {z_mode!r}")


def scaled_init_(model):
    """Variance-1/fan_in conv weights, zero biases, zeroed last conv of every residual branch."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            fan_in = module.weight[0].numel()
            nn.init.normal_(module.weight, std=fan_in ** -0.5)
            nn.init.zeros_(module.bias)
    for module in model.modules():
        branch_end = getattr(module, "last_branch_conv", None)
        if branch_end is not None:
            nn.init.zeros_(branch_end.weight)
