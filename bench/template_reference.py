"""The course template's frame-by-frame training step, rollout and layers, kept as a reference.

Tests check that VAE_Model's batched training pass and its layers give the same loss, outputs and
gradients; the benchmark measures how much faster they are. Not used for training.
"""
import copy
import types

import torch
import torch.nn.functional as F
from torch import nn

from modules.layers import ConvFFN, DepthConv, ResidualBlock
from modules.objective import kl_per_frame, soft_clamp_logvar


# -- the template's layer forwards, on the same parameters ---------------------------------------
def _conv(conv, x):
    return conv._conv_forward(x, conv.weight, conv.bias)


def template_residual_block(block, x):
    slope = block.leaky_relu.negative_slope
    out = F.leaky_relu(_conv(block.conv1, x), slope)
    out = F.leaky_relu(_conv(block.conv2, out), slope)
    return out + (x if block.skip is None else _conv(block.skip, x))


def template_depth_conv(block, x):
    identity = x if block.adaptor is None else _conv(block.adaptor, x)
    out = F.leaky_relu(_conv(block.conv1[0], x), block.conv1[1].negative_slope)
    return _conv(block.conv2, _conv(block.depth_conv, out)) + identity


def template_conv_ffn(block, x):
    value, gate = _conv(block.conv, x).chunk(2, dim=1)
    return x + _conv(block.conv_out, value * F.leaky_relu(gate, block.relu.negative_slope))


TEMPLATE_FORWARDS = {ResidualBlock: template_residual_block, DepthConv: template_depth_conv,
                     ConvFFN: template_conv_ffn}


def template_layers(model):
    """A copy of ``model`` whose layers run the template's forwards (conv + chunk, out-of-place
    activations and sums) on the copied parameters: the reference for modules/layers.py."""
    model = copy.deepcopy(model)
    for module in model.modules():
        forward = TEMPLATE_FORWARDS.get(type(module))
        if forward is not None:
            module.forward = types.MethodType(forward, module)
        if isinstance(module, nn.LeakyReLU):
            module.inplace = False
    return model


def template_clip_loss(model, frames, poses, beta, teacher_forcing, eps, kl_reduction="sum"):
    """Loss of a (B, T, 3, H, W) clip computed one frame at a time as the template does: every
    step encodes its target (posterior) and its previous frame separately. ``eps`` is the
    (B, T-1, N, H, W) reparameterisation noise. Template output mode only."""
    output = frames[:, 0]
    total = 0.0
    for t in range(1, frames.shape[1]):
        frame_feature = model.frame_transformation(frames[:, t])
        label_feature = model.label_transformation(poses[:, t])
        mu, logvar = model.Gaussian_Predictor(frame_feature, label_feature)
        logvar = soft_clamp_logvar(logvar)
        z = mu + torch.exp(0.5 * logvar) * eps[:, t - 1]
        prev = frames[:, t - 1] if teacher_forcing else output
        output = torch.sigmoid(model.Generator(model.Decoder_Fusion(model.frame_transformation(prev),
                                                                    label_feature, z)))
        kl = kl_per_frame(mu.unsqueeze(1), logvar.unsqueeze(1), kl_reduction)[0]
        total = total + F.mse_loss(output, frames[:, t]) + beta * kl
    return total


@torch.no_grad()
def template_rollout(model, first_frame, poses):
    """The template's rollout: one video, label and posterior computed at every step (the
    posterior is then discarded), z ~ N(0, I). (B, 3, H, W), (B, T, 3, H, W) -> (B, T, 3, H, W)."""
    frames = [first_frame]
    for t in range(1, poses.shape[1]):
        frame_feature = model.frame_transformation(frames[-1])
        label_feature = model.label_transformation(poses[:, t])
        mu, logvar = model.Gaussian_Predictor(frame_feature, label_feature)
        z = torch.randn_like(mu)
        frames.append(torch.sigmoid(model.Generator(model.Decoder_Fusion(frame_feature, label_feature, z))))
    return torch.stack(frames, dim=1)
