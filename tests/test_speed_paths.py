"""The speed paths compute what the plain paths compute: channels_last, autocast (bf16, fp16 with
a GradScaler), batched rollouts, no host syncs, and the runtime settings.
Correctness only: timings live in bench/bench.py (docs/performance.md)."""
import copy

import pytest
import torch

from bench.template_reference import template_rollout
from conftest import TINY_WIDTH_FLAGS, TINY_WIDTHS
from modules import runtime
from modules.config import build_val_psnr_parser, parse_test_args, parse_train_args
from modules.objective import cvae_loss
from modules.runtime import autocast_context
from modules.train.setup import make_grad_scaler, prepare
from modules.vae import VAE_Model



def clip(batch=2, length=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    frames, poses = torch.rand(batch, length, 3, 8, 16, generator=g), torch.rand(batch, length, 3, 8, 16, generator=g)
    eps = torch.randn(batch, length - 1, TINY_WIDTHS["N_dim"], 8, 16, generator=g)
    return frames, poses, eps


def is_channels_last(model):
    """The RGB encoder's last 3x3 conv (a 1x1 kernel is contiguous in both formats)."""
    weight = model.frame_transformation[-1].weight
    return weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()


def loss_and_grads(model, frames, poses, eps, teacher_forcing, amp="none"):
    with autocast_context(frames.device, amp):
        pred, mu, logvar = model(frames, poses, teacher_forcing, eps=eps)
    loss = cvae_loss(pred, frames[:, 1:], mu, logvar, beta=0.5)["loss"]
    loss.backward()
    return loss.detach(), {name: p.grad for name, p in model.named_parameters()}


def assert_grads_close(actual, expected, rtol=1e-4):
    """Per parameter, up to float reassociation: the absolute slack scales with the gradient's size
    (a conv bias followed by BatchNorm has a gradient of ~0 made of rounding errors)."""
    for name, grad in expected.items():
        atol = 1e-5 * (1 + grad.abs().max().item())
        torch.testing.assert_close(actual[name], grad, rtol=rtol, atol=atol, msg=name)


# -- channels_last ---------------------------------------------------------------------------------
@pytest.mark.parametrize("teacher_forcing", [True, False])
def test_channels_last_training_pass_equals_nchw(teacher_forcing):
    torch.manual_seed(0)
    model = VAE_Model(**TINY_WIDTHS).train()
    nhwc = copy.deepcopy(model).to(memory_format=torch.channels_last)
    assert is_channels_last(nhwc) and not is_channels_last(model)
    loss, grads = loss_and_grads(model, *clip(), teacher_forcing)
    loss_cl, grads_cl = loss_and_grads(nhwc, *clip(), teacher_forcing)
    torch.testing.assert_close(loss_cl, loss, rtol=1e-5, atol=1e-6)
    assert_grads_close(grads_cl, grads)


def test_channels_last_rollout_equals_nchw():
    torch.manual_seed(0)
    model = VAE_Model(**TINY_WIDTHS).eval()
    nhwc = copy.deepcopy(model).to(memory_format=torch.channels_last)
    frames, poses, _ = clip(batch=3, length=6)
    with torch.inference_mode():
        a = model.rollout(frames[:, 0], poses, generator=torch.Generator().manual_seed(1))
        b = nhwc.rollout(frames[:, 0], poses, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)


# -- rollouts --------------------------------------------------------------------------------------
def test_batched_rollout_equals_one_video_at_a_time():
    torch.manual_seed(0)
    model = VAE_Model(**TINY_WIDTHS).eval()
    frames, poses, _ = clip(batch=3, length=6)
    with torch.inference_mode():
        batched = model.rollout(frames[:, 0], poses, z_mode="zero")
        alone = torch.cat([model.rollout(frames[v:v + 1, 0], poses[v:v + 1], z_mode="zero") for v in range(3)])
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-6)


def test_rollout_without_the_posterior_equals_the_templates():
    """Skipping the posterior and encoding the poses up front changes nothing: same noise, same video."""
    torch.manual_seed(0)
    model = VAE_Model(**TINY_WIDTHS).eval()
    frames, poses, _ = clip(batch=1, length=6)
    torch.manual_seed(5)
    expected = template_rollout(model, frames[:, 0], poses)
    torch.manual_seed(5)
    with torch.inference_mode():
        ours = model.rollout(frames[:, 0], poses)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)


def test_no_host_sync_in_the_training_pass_or_the_rollout(monkeypatch):
    """No .item()/.tolist()/.cpu()/bool(tensor) inside the per-frame loops (each one waits on a GPU)."""
    def forbidden(*args, **kwargs):
        raise AssertionError("host sync inside the model")
    model = VAE_Model(**TINY_WIDTHS)
    frames, poses, eps = clip()
    for name in ("item", "tolist", "cpu", "numpy", "__bool__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    model.train()(frames, poses, [True, False, True, False], eps=eps)
    with torch.inference_mode():
        model.eval().rollout(frames[:, 0], poses)


def test_tester_rolls_out_all_videos_in_one_call(tmp_path, monkeypatch):
    from tests.test_tester import N_FRAMES, N_VIDEOS, make_test_split, our_checkpoint, run_tester
    make_test_split(tmp_path / "data")
    our_checkpoint(tmp_path / "ckpt.pt")
    batches, original = [], VAE_Model.rollout

    def counted(self, first_frame, poses, *args, **kwargs):
        batches.append(first_frame.shape[0])
        assert torch.is_inference_mode_enabled() and not self.training
        return original(self, first_frame, poses, *args, **kwargs)
    monkeypatch.setattr(VAE_Model, "rollout", counted)
    run_tester("--DR", tmp_path / "data", "--ckpt_path", tmp_path / "ckpt.pt", "--save_root", tmp_path / "out")
    assert batches == [N_VIDEOS] and N_FRAMES > 1


# -- autocast ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_autocast_training_pass_is_close_and_keeps_the_posterior_in_fp32(amp):
    torch.manual_seed(0)
    model = VAE_Model(**TINY_WIDTHS).train()
    reference = copy.deepcopy(model)
    frames, poses, eps = clip()
    with autocast_context(frames.device, amp):
        pred, mu, logvar = model(frames, poses, True, eps=eps)
    assert pred.dtype == {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    assert mu.dtype == logvar.dtype == torch.float32
    loss, grads = loss_and_grads(model, frames, poses, eps, True, amp)
    expected, expected_grads = loss_and_grads(reference, frames, poses, eps, True)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, expected, rtol=3e-2, atol=0)
    assert all(torch.isfinite(g).all() for g in grads.values())
    g, e = (torch.cat([d[k].flatten() for k in sorted(d)]) for d in (grads, expected_grads))
    assert torch.nn.functional.cosine_similarity(g, e, dim=0) > 0.95


def test_grad_scaler_only_for_fp16():
    cpu = torch.device("cpu")
    assert make_grad_scaler(cpu, "fp16").is_enabled()
    assert not make_grad_scaler(cpu, "bf16").is_enabled() and not make_grad_scaler(cpu, "none").is_enabled()


def test_fp16_grad_scaler_skips_overflowing_steps_then_steps_like_fp32():
    torch.manual_seed(0)
    model = VAE_Model(**TINY_WIDTHS).train()
    frames, poses, eps = clip()
    _, expected = loss_and_grads(copy.deepcopy(model), frames, poses, eps, True)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    scaler = make_grad_scaler(frames.device, "fp16")
    for _ in range(40):  # the initial scale (2**16) overflows fp16: halved until it fits
        optimizer.zero_grad()
        with autocast_context(frames.device, "fp16"):
            pred, mu, logvar = model(frames, poses, True, eps=eps)
        scaler.scale(cvae_loss(pred, frames[:, 1:], mu, logvar, beta=0.5)["loss"]).backward()
        scaler.unscale_(optimizer)
        finite = all(torch.isfinite(p.grad).all() for p in model.parameters())
        before = [p.detach().clone() for p in model.parameters()]
        scaler.step(optimizer)
        scaler.update()
        moved = any(not torch.equal(p, q) for p, q in zip(model.parameters(), before))
        assert moved == finite  # a step with inf/NaN gradients is skipped
        if finite:
            break
    assert finite
    grads = {name: p.grad for name, p in model.named_parameters()}
    g, e = (torch.cat([d[k].flatten() for k in sorted(d)]) for d in (grads, expected))
    assert torch.nn.functional.cosine_similarity(g, e, dim=0) > 0.95


# -- runtime settings --------------------------------------------------------------------------------------
def test_threads_never_exceed_the_cores():
    assert runtime.configure_threads(10_000) == runtime.core_count() == torch.get_num_threads()
    assert runtime.configure_threads(1) == 1 == torch.get_num_threads()


def test_channels_last_default_is_on_for_cpu_only():
    assert runtime.channels_last_for(None, "cpu") and not runtime.channels_last_for(None, "cuda")
    assert runtime.channels_last_for(True, "cuda") and not runtime.channels_last_for(False, "cpu")
    for flags, expected in (([], True), (["--channels_last"], True), (["--no-channels_last"], False)):
        cfg = parse_train_args(["--device", "cpu", *flags])
        assert runtime.configure(cfg.device, cfg.channels_last, cfg.amp)["channels_last"] is expected
        _, model, *_ = prepare(parse_train_args(["--device", "cpu", *flags, *TINY_WIDTH_FLAGS]))
        assert is_channels_last(model) is expected


def test_allocator_tuning_respects_the_users_settings(monkeypatch):
    monkeypatch.setenv(runtime.OPT_OUT_ENV, "1")
    assert runtime.tune_allocator() is False
    monkeypatch.delenv(runtime.OPT_OUT_ENV)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert runtime.tune_allocator() is False


def test_amp_auto_picks_bf16_only_where_it_runs_natively():
    epyc_avx2 = {"sse4_2", "avx", "avx2", "fma"}
    assert not runtime.bf16_is_fast("cpu", epyc_avx2)
    assert not runtime.bf16_is_fast("cpu", epyc_avx2 | {"avx512f", "avx512bw"})  # AVX-512 without BF16
    assert runtime.bf16_is_fast("cpu", epyc_avx2 | {"avx512f", "avx512_bf16"})  # Cooper Lake, Zen 4
    assert runtime.bf16_is_fast("cpu", epyc_avx2 | {"avx512f", "amx_bf16", "amx_tile"})  # Sapphire Rapids
    assert runtime.bf16_is_fast("cuda", cuda_capability=(8, 0)) and runtime.bf16_is_fast("cuda", cuda_capability=(9, 0))
    assert not runtime.bf16_is_fast("cuda", cuda_capability=(7, 5)) and not runtime.bf16_is_fast("cuda")
    assert runtime.resolve_amp("auto", "cpu") in ("bf16", "none")
    assert runtime.resolve_amp("fp16", "cpu") == "fp16" and runtime.resolve_amp("none", "cuda") == "none"


def test_amp_auto_is_resolved_by_configure_and_is_the_default_of_training_only(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert runtime.cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert runtime.cpu_flags(tmp_path / "missing") == set()
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2"})
    assert runtime.configure("cpu", None, "auto")["amp"] == "none"
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "amx_bf16"})
    assert runtime.configure("cpu", None, "auto")["amp"] == ("bf16" if torch.backends.mkldnn.is_available() else "none")
    assert parse_train_args([]).amp == "auto"
    # Evaluation stays fp32: a template checkpoint gives the template's outputs.
    assert parse_test_args([]).amp == "none" and build_val_psnr_parser().parse_args([]).amp == "none"
