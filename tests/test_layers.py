"""modules/layers.py computes what the template's layers compute (bench/template_reference.py's
forwards on the same parameters): outputs and gradients to float rounding, at the template's
widths and the cpu_quick preset's, in NCHW and channels_last."""
import copy

import pytest
import torch

from bench.template_reference import template_clip_loss, template_layers
from modules.layers import ConvFFN, DepthConv, DepthConvBlock, ResidualBlock
from modules.objective import cvae_loss
from modules.vae import VAE_Model

TEMPLATE = dict(F_dim=128, L_dim=32, N_dim=12, D_out_dim=192)
PRESET = dict(F_dim=32, L_dim=8, N_dim=4, D_out_dim=48)
FORMATS = [torch.contiguous_format, torch.channels_last]
# Small frames keep the template's widths fast; the channel counts are what the layers see.
H, W = 4, 8
LAYERS = {  # (layer, input channels): the template's shapes, and the preset's smallest
    "residual skip 172->43": (lambda: ResidualBlock(172, 43), 172),
    "residual 96->96": (lambda: ResidualBlock(96, 96), 96),
    "depthconv 172->172": (lambda: DepthConv(172, 172), 172),
    "depthconv 43->86 adaptor": (lambda: DepthConv(43, 86), 43),
    "convffn 172 (hidden 688)": (lambda: ConvFFN(172), 172),
    "convffn 1 (hidden 4)": (lambda: ConvFFN(1), 1),
    "depthconvblock 24->24": (lambda: DepthConvBlock(24, 24), 24),
}


def assert_grads_close(actual, expected):
    for name, grad in expected.items():
        atol = 1e-5 * (1 + grad.abs().max().item())
        torch.testing.assert_close(actual[name], grad, rtol=1e-4, atol=atol, msg=name)


def output_and_grads(module, x, upstream):
    x = x.clone().requires_grad_()
    out = module(x)
    out.backward(upstream)
    return out.detach(), {"input": x.grad, **{n: p.grad for n, p in module.named_parameters()}}


@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_equals_the_templates(name, memory_format):
    make, channels = LAYERS[name]
    torch.manual_seed(0)
    ours = make().to(memory_format=memory_format)
    reference = template_layers(ours)
    x = torch.randn(3, channels, H, W).to(memory_format=memory_format)
    upstream = torch.randn_like(reference(x))
    out, grads = output_and_grads(ours, x, upstream)
    expected, expected_grads = output_and_grads(reference, x, upstream)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    assert_grads_close(grads, expected_grads)


@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize("widths", [TEMPLATE, PRESET], ids=["template", "preset"])
@pytest.mark.parametrize("options", [dict(), dict(fix_leaky_relu=True, output_mode="anchored")],
                         ids=["template", "cpu_quick"])
def test_training_pass_equals_template_layers(widths, memory_format, options):
    """The whole model, teacher forcing off (every network, the sequential part too)."""
    torch.manual_seed(0)
    ours = VAE_Model(**widths, **options).train().to(memory_format=memory_format)
    reference = template_layers(ours)
    g = torch.Generator().manual_seed(1)
    frames, poses = torch.rand(2, 4, 3, H, W, generator=g), torch.rand(2, 4, 3, H, W, generator=g)
    eps = torch.randn(2, 3, widths["N_dim"], H, W, generator=g)
    losses, grads = [], []
    for model in (ours, reference):
        pred, mu, logvar = model(frames, poses, False, eps=eps)
        loss = cvae_loss(pred, frames[:, 1:], mu, logvar, beta=1.0)["loss"]
        loss.backward()
        losses.append(loss.detach())
        grads.append({n: p.grad for n, p in model.named_parameters()})
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-7)
    assert_grads_close(grads[0], grads[1])


def test_template_layers_are_the_template_step():
    """The reference copy runs the template's clip loss too (what the benchmark times)."""
    torch.manual_seed(0)
    model = VAE_Model(**PRESET).train()
    frames, poses = torch.rand(2, 3, 3, H, W), torch.rand(2, 3, 3, H, W)
    eps = torch.randn(2, 2, PRESET["N_dim"], H, W)
    ours = template_clip_loss(copy.deepcopy(model), frames, poses, 1.0, False, eps)
    reference = template_clip_loss(template_layers(model), frames, poses, 1.0, False, eps)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-7)
