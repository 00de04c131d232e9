"""The five networks of the course template's VAE_Model.

Names, layer order and widths are the template's, so template checkpoints load with strict=True.

``leaky_slope`` is the negative slope of the two activations the template wrote as
``nn.LeakyReLU(True)``: that call sets ``negative_slope=True``, i.e. 1.0, which makes them the
identity. ``TEMPLATE_LEAKY_SLOPE`` reproduces that; pass 0.01 for the intended LeakyReLU.
"""
import torch
from torch import nn

from .layers import DepthConvBlock, ResidualBlock, leaky_relu

TEMPLATE_LEAKY_SLOPE = 1.0
INTENDED_LEAKY_SLOPE = 0.01


class RGB_Encoder(nn.Sequential):
    """(N, 3, H, W) frame -> (N, out_chans, H, W) features."""

    def __init__(self, in_chans, out_chans):
        super().__init__(
            ResidualBlock(in_chans, out_chans // 8),
            DepthConvBlock(out_chans // 8, out_chans // 8),
            ResidualBlock(out_chans // 8, out_chans // 4),
            DepthConvBlock(out_chans // 4, out_chans // 4),
            ResidualBlock(out_chans // 4, out_chans // 2),
            DepthConvBlock(out_chans // 2, out_chans // 2),
            nn.Conv2d(out_chans // 2, out_chans, kernel_size=3, padding=1),
        )


class Label_Encoder(nn.Sequential):
    """(N, 3, H, W) pose image -> (N, out_chans, H, W) features. Holds the model's only BatchNorm."""

    def __init__(self, in_chans, out_chans, leaky_slope=TEMPLATE_LEAKY_SLOPE):
        super().__init__(
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_chans, out_chans // 2, kernel_size=7, padding=0),
            nn.BatchNorm2d(out_chans // 2),
            leaky_relu(leaky_slope),
            ResidualBlock(out_chans // 2, out_chans),
        )


class Gaussian_Predictor(nn.Sequential):
    """(frame features, pose features) -> (mu, logvar), each (N, out_chans, H, W)."""

    def __init__(self, in_chans, out_chans, leaky_slope=TEMPLATE_LEAKY_SLOPE):
        super().__init__(
            ResidualBlock(in_chans, out_chans // 4),
            DepthConvBlock(out_chans // 4, out_chans // 4),
            ResidualBlock(out_chans // 4, out_chans // 2),
            DepthConvBlock(out_chans // 2, out_chans // 2),
            ResidualBlock(out_chans // 2, out_chans),
            leaky_relu(leaky_slope),
            nn.Conv2d(out_chans, out_chans * 2, kernel_size=1),
        )

    def forward(self, frame_feature, label_feature):
        params = super().forward(torch.cat([frame_feature, label_feature], dim=1))
        mu, logvar = params.chunk(2, dim=1)
        return mu, logvar


class Decoder_Fusion(nn.Sequential):
    """(previous-frame features, pose features, z) -> (N, out_chans, H, W) fused features."""

    def __init__(self, in_chans, out_chans):
        super().__init__(
            DepthConvBlock(in_chans, in_chans),
            ResidualBlock(in_chans, in_chans // 4),
            DepthConvBlock(in_chans // 4, in_chans // 2),
            ResidualBlock(in_chans // 2, in_chans // 2),
            DepthConvBlock(in_chans // 2, out_chans // 2),
            nn.Conv2d(out_chans // 2, out_chans, kernel_size=1),
        )

    def forward(self, frame_feature, label_feature, z):
        return super().forward(torch.cat([frame_feature, label_feature, z], dim=1))


class Generator(nn.Sequential):
    """(N, input_nc, H, W) fused features -> (N, output_nc, H, W) unbounded output (logits)."""

    def __init__(self, input_nc, output_nc):
        super().__init__(
            DepthConvBlock(input_nc, input_nc),
            ResidualBlock(input_nc, input_nc // 2),
            DepthConvBlock(input_nc // 2, input_nc // 2),
            ResidualBlock(input_nc // 2, input_nc // 4),
            DepthConvBlock(input_nc // 4, input_nc // 4),
            ResidualBlock(input_nc // 4, input_nc // 8),
            DepthConvBlock(input_nc // 8, input_nc // 8),
            nn.Conv2d(input_nc // 8, output_nc, kernel_size=1),
        )
