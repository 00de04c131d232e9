"""Building blocks of the course template's networks.

The structure (and so the state_dict keys) is fixed by the course; only options are passed by
keyword here. Every layer keeps the full 32x64 resolution (no striding anywhere).
"""
from torch import nn


def conv3x3(in_ch, out_ch):
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1)


def conv1x1(in_ch, out_ch):
    return nn.Conv2d(in_ch, out_ch, kernel_size=1)


class ResidualBlock(nn.Module):
    """Two 3x3 convs with LeakyReLU(0.01); a 1x1 skip when the channel count changes."""

    def __init__(self, in_ch, out_ch, leaky_relu_slope=0.01):
        super().__init__()
        self.conv1 = conv3x3(in_ch, out_ch)
        self.conv2 = conv3x3(out_ch, out_ch)
        self.leaky_relu = nn.LeakyReLU(negative_slope=leaky_relu_slope)
        self.skip = conv1x1(in_ch, out_ch) if in_ch != out_ch else None

    def forward(self, x):
        out = self.leaky_relu(self.conv1(x))
        out = self.leaky_relu(self.conv2(out))
        identity = x if self.skip is None else self.skip(x)
        return out + identity

    @property
    def last_branch_conv(self):
        return self.conv2


class DepthConv(nn.Module):
    """1x1 conv, LeakyReLU, depthwise kxk conv, 1x1 conv; residual (1x1 adaptor if channels change)."""

    def __init__(self, in_ch, out_ch, depth_kernel=3, slope=0.01):
        super().__init__()
        self.conv1 = nn.Sequential(conv1x1(in_ch, in_ch), nn.LeakyReLU(negative_slope=slope))
        self.depth_conv = nn.Conv2d(in_ch, in_ch, kernel_size=depth_kernel,
                                    padding=depth_kernel // 2, groups=in_ch)
        self.conv2 = conv1x1(in_ch, out_ch)
        self.adaptor = conv1x1(in_ch, out_ch) if in_ch != out_ch else None

    def forward(self, x):
        identity = x if self.adaptor is None else self.adaptor(x)
        return self.conv2(self.depth_conv(self.conv1(x))) + identity

    @property
    def last_branch_conv(self):
        return self.conv2


class ConvFFN(nn.Module):
    """Gated feed-forward: 1x1 up to 4x, half gates the other half through LeakyReLU(0.1), 1x1 down."""

    def __init__(self, in_ch, slope=0.1):
        super().__init__()
        hidden_ch = max(min(in_ch * 4, 1024), in_ch * 2)
        self.conv = conv1x1(in_ch, hidden_ch)
        self.conv_out = conv1x1(hidden_ch // 2, in_ch)
        self.relu = nn.LeakyReLU(negative_slope=slope)

    def forward(self, x):
        value, gate = self.conv(x).chunk(2, dim=1)
        return x + self.conv_out(value * self.relu(gate))

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
