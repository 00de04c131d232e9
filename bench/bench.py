"""Speed of this repo against the course template's way, measured side by side in one run.

    python bench/bench.py                                  # every section but epoch
    python bench/bench.py --sections epoch                 # the first command: its preset vs the old one, time to 29 dB
    python bench/bench.py --quick                          # fewer repeats and variants, 32-frame rollouts
    python bench/bench.py --sections peak step rollout --threads 1
    python bench/bench.py --device cuda --amp bf16         # on a GPU machine: the fast paths

Sections (results in docs/performance.md):
  loader     frames/s, template-style PIL decode + resize per item vs dataloader.py (bench_loader.py)
  peak       this CPU's GEMM (fp32, bf16) and convolution throughput (the step section measures its
             own fp32 GEMM reference in the same rounds as the steps)
  step       one training step (forward, loss, backward, clip, Adam) at B=2, T=16, teacher forcing
             off (the headline: --tfr 0, the cpu_quick preset) and on, at the template's widths and
             the preset's: the template's frame-by-frame step (template layers) vs ours in fp32 and
             in bf16 (--amp auto: where the CPU/GPU runs it natively), variants interleaved
  presets    each preset's own training step (cpu_quick, cpu_pyramid, lab4 at its batch of 8), fp32
             and bf16, with its GFLOP per step (torch.utils.flop_counter)
  profile    torch.profiler's top ops of our default step, teacher forcing off, per width
  allocator  our step in fresh processes with and without the glibc allocator thresholds
  rollout    5 test videos: template-style (template layers, one video, posterior computed) vs ours
             one at a time vs ours batched
  memory     peak RSS (VmHWM) of a training step and of the 5 x 630-frame rollout, each in its own
             process (the rollout is timed too: the absolute figure for the whole test set)
  epoch      (only when named: it trains for ~30 minutes) the first command's preset against lab4's: an
             epoch part by part, then both trained, with their seconds per epoch and time to --target dB
             (bench_epoch.py --train)

Check ``uptime`` first: with another busy process on a 2-core machine use ``--threads 1`` (two
OpenMP threads then wait on the busy core and everything is 10-40x slower). Timings are medians
of interleaved repeats; the 1-minute load average is printed with every section.
"""
import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from modules import runtime  # noqa: E402
from modules.runtime import autocast_context  # noqa: E402
from modules.objective import cvae_loss  # noqa: E402
from template_reference import template_clip_loss, template_layers, template_rollout  # noqa: E402
from modules.architectures import build_vae, model_config  # noqa: E402
from modules.config import parse_train_args  # noqa: E402
from modules.vae import VAE_Model  # noqa: E402

SECTIONS = ("loader", "peak", "step", "presets", "profile", "allocator", "rollout", "memory", "epoch")
DEFAULT_SECTIONS = SECTIONS[:-1]  # "epoch" trains two presets: only when asked for
BENCH_PRESETS = ("cpu_quick", "cpu_pyramid", "lab4")
TEMPLATE_WIDTHS = dict(F_dim=128, L_dim=32, N_dim=12, D_out_dim=192)
# The cpu_quick preset's network (modules/config.py PRESETS): 16x cheaper per frame.
PRESET_WIDTHS = dict(F_dim=32, L_dim=8, N_dim=4, D_out_dim=48)
WIDTHS = {"template": TEMPLATE_WIDTHS, "preset": PRESET_WIDTHS}
TEMPLATE_STEP = "template (frame by frame, NCHW)"
GEMM_PROBE = "fp32 GEMM probe"
H, W = 32, 64
N_TEST_VIDEOS, N_TEST_FRAMES = 5, 630


# -- helpers ----------------------------------------------------------------------------------------
def load1():
    return os.getloadavg()[0]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def vm_hwm_mb():
    """Peak resident memory of this process (MB), from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def interleaved(variants, repeats, warmup, device, cpu=None):
    """Time every variant ``repeats`` times, round-robin (so load changes hit all alike), after
    ``warmup`` untimed rounds. Returns {name: median wall seconds}; fills ``cpu`` (a dict), when
    given, with the median CPU seconds of this process: with one thread on an oversubscribed
    machine, the wall clock also counts the time other processes held the core, the CPU clock not."""
    times = {name: [] for name in variants}
    cpu_times = {name: [] for name in variants}
    for round_ in range(warmup + repeats):
        for name, fn in variants.items():
            sync(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            sync(device)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
                cpu_times[name].append(time.process_time() - start_cpu)
    if cpu is not None:
        cpu.update({name: statistics.median(t) for name, t in cpu_times.items()})
    return {name: statistics.median(t) for name, t in times.items()}


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    print(line(header))
    for row in rows:
        print(line(row))


def flops_of(fn):
    """FLOPs (2 x multiply-adds of convolutions and matmuls, forward and backward) of one call."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def make_model(args, device, channels_last, seed=0, widths=TEMPLATE_WIDTHS):
    torch.manual_seed(seed)
    model = VAE_Model(**widths).to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def variant_model(base, template, channels_last):
    """A copy of ``base``: with the template's layer forwards (template_reference.template_layers)
    for the template-style variants, ours otherwise; in channels_last or NCHW."""
    model = template_layers(base) if template else copy.deepcopy(base)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def clip_data(args, device, seed=1, widths=TEMPLATE_WIDTHS):
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(args.batch, args.frames, 3, H, W, generator=g).to(device)
    poses = torch.rand(args.batch, args.frames, 3, H, W, generator=g).to(device)
    eps = torch.randn(args.batch, args.frames - 1, widths["N_dim"], H, W, generator=g).to(device)
    return frames, poses, eps


# -- training step ------------------------------------------------------------------------------------
def ours_loss(model, frames, poses, eps, tf, amp="none"):
    with autocast_context(frames.device, amp):
        pred, mu, logvar = model(frames, poses, tf, eps=eps)
    return cvae_loss(pred, frames[:, 1:], mu, logvar, beta=1.0)["loss"]


def template_loss(model, frames, poses, eps, tf, amp="none"):
    with autocast_context(frames.device, amp):
        return template_clip_loss(model, frames, poses, 1.0, tf, eps)


def step_fn(loss_fn, model, data, tf, amp="none"):
    """One full optimiser step of ``loss_fn`` (the same work around it for every variant)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model, *data, tf, amp)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss
    return step


def step_variants(args):
    """name -> (loss function, template layers?, channels_last, amp). The template-style step runs
    the template's layers too, so it is the template's arithmetic, frame by frame."""
    variants = {TEMPLATE_STEP: (template_loss, True, False, "none"),
                "template, channels_last": (template_loss, True, True, "none"),
                "ours batched, NCHW": (ours_loss, False, False, "none"),
                "ours batched, channels_last (fp32 default)": (ours_loss, False, True, "none")}
    if args.amp != "none":
        variants[f"ours batched, channels_last, {args.amp}"] = (ours_loss, False, True, args.amp)
    if args.quick:
        variants.pop("template, channels_last")
        variants.pop("ours batched, NCHW")
    return variants


def loss_differences(base, data, tf, variants):
    """Relative loss difference of every variant against the template-style step, on the same
    weights, data and noise (train-mode BatchNorm: per-frame batch statistics)."""
    with torch.no_grad():
        losses = {name: loss_fn(variant_model(base, template, cl), *data, tf, amp).item()
                  for name, (loss_fn, template, cl, amp) in variants.items()}
    ref = losses[TEMPLATE_STEP]
    return {name: abs(loss - ref) / abs(ref) for name, loss in losses.items()}


def gemm_probe(device, n=2048, calls=4):
    """``calls`` fp32 n^3 GEMMs, timed as one more variant of a section's rounds, so the GEMM rate
    that "of GEMM" divides by is measured under the same load as the steps. Returns (fn, FLOPs)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)

    def fn():
        for _ in range(calls):
            a @ b
    return fn, 2 * n ** 3 * calls


def time_steps(args, device, widths, tf):
    """Every variant's optimiser step at ``widths``, interleaved with the GEMM probe; prints and
    returns the table."""
    data = clip_data(args, device, widths=widths)
    base = make_model(args, device, channels_last=False, widths=widths)
    variants = step_variants(args)
    diffs = loss_differences(base, data, tf, variants)
    fns, flops = {}, {}
    for name, (loss_fn, template, cl, amp) in variants.items():
        fns[name] = step_fn(loss_fn, variant_model(base, template, cl), data, tf, amp)
        flops[name] = flops_of(fns[name])  # also the untimed warm-up step
    fns[GEMM_PROBE], gemm_flops = gemm_probe(device)
    load_before = load1()
    cpu = {}
    seconds = interleaved(fns, args.repeats, 0, device, cpu)
    gemm, gemm_cpu = (gemm_flops / t.pop(GEMM_PROBE) / 1e9 for t in (seconds, cpu))
    frames_per_step = args.batch * (args.frames - 1)
    baseline, baseline_cpu = seconds[TEMPLATE_STEP], cpu[TEMPLATE_STEP]
    rows = []
    for name, s in seconds.items():
        gflops, gflops_cpu = flops[name] / s / 1e9, flops[name] / cpu[name] / 1e9
        rows.append([name, f"{s:.3f}", f"{baseline / s:.2f}x", f"{cpu[name]:.3f}", f"{baseline_cpu / cpu[name]:.2f}x",
                     f"{flops[name] / 1e9:.0f}", f"{gflops_cpu:.1f}", f"{100 * gflops_cpu / gemm_cpu:.0f}%",
                     f"{diffs[name]:.1e}"])
    print(f"\n## training step, teacher forcing {'on' if tf else 'OFF'}, {widths}: B={args.batch}, "
          f"T={args.frames} ({frames_per_step} predicted frames), fp32 GEMM {gemm_cpu:.1f} GFLOP/s per CPU second "
          f"({gemm:.1f} wall) in the same rounds, load {load_before:.2f} -> {load1():.2f}")
    table(["variant", "wall s", "vs template", "CPU s", "vs template (CPU)", "GFLOP", "GFLOP/CPU s", "of GEMM",
           "loss vs template"], rows)
    return {"seconds": seconds, "cpu_seconds": cpu, "gflop": {k: v / 1e9 for k, v in flops.items()},
            "loss_rel_diff": diffs, "gemm_gflops": gemm, "gemm_gflops_cpu": gemm_cpu, "load": [load_before, load1()]}


def section_step(args, device):
    """Teacher forcing off first (what --tfr 0 and the cpu_quick preset run), then on (unless
    --tf off); at the template's widths and the preset's. GFLOP/s (fp32-equivalent for bf16) are
    against the fp32 GEMM rate measured in the same rounds."""
    modes = (False,) if args.tf == "off" else (False, True)
    return {f"{widths_name}_tf_{'on' if tf else 'off'}": time_steps(args, device, WIDTHS[widths_name], tf)
            for widths_name in args.widths for tf in modes}


def section_presets(args, device):
    """Each preset's own training step (its networks, B, T, KL reduction; free-running), fp32 and, when
    --amp gives one, the autocast dtype: what `Trainer.py --preset P` runs per batch; GFLOP per step."""
    variants, gflop = {}, {}
    for preset in BENCH_PRESETS:
        cfg = parse_train_args(["--preset", preset])
        torch.manual_seed(0)
        model = build_vae(model_config(vars(cfg))).to(device)
        if device.type == "cpu":
            model.to(memory_format=torch.channels_last)
        g = torch.Generator().manual_seed(1)
        frames, poses = (torch.rand(cfg.batch_size, cfg.train_vi_len, 3, H, W, generator=g).to(device) for _ in "fp")
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
        for amp in ("none", args.amp) if args.amp != "none" else ("none",):
            def step(model=model, optimizer=optimizer, frames=frames, poses=poses, amp=amp, cfg=cfg):
                optimizer.zero_grad(set_to_none=True)
                with autocast_context(device, amp):
                    pred, mu, logvar = model(frames, poses, False)
                cvae_loss(pred, frames[:, 1:], mu, logvar, 1.0, cfg.kl_reduction)["loss"].backward()
                optimizer.step()
            name = f"{preset} (B={cfg.batch_size}), {'fp32' if amp == 'none' else amp}"
            variants[name], gflop[name] = step, flops_of(step) / 1e9
    load_before = load1()
    times = interleaved(variants, args.repeats + 2, warmup=1, device=device)
    base = times[f"{BENCH_PRESETS[0]} (B=2), fp32"]
    print(f"\n## presets: one training step (free-running), load {load_before:.2f} -> {load1():.2f}")
    table(["variant", "GFLOP/step", "s/step", f"vs {BENCH_PRESETS[0]} fp32"],
          [[name, f"{gflop[name]:.1f}", f"{t:.3f}", f"{base / t:.2f}x"] for name, t in times.items()])
    return times


def section_profile(args, device):
    """Where our default step (channels_last, fp32, teacher forcing off) spends its time, per width."""
    from torch.profiler import ProfilerActivity, profile
    results = {}
    for widths_name in args.widths:
        widths = WIDTHS[widths_name]
        model = make_model(args, device, channels_last=True, widths=widths)
        step = step_fn(ours_loss, model, clip_data(args, device, widths=widths), False)
        step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events)
        rows = [[e.key, f"{100 * e.self_cpu_time_total / total:.1f}%", e.count] for e in events[:args.profile_rows]]
        print(f"\n## profile: ours, channels_last, fp32, teacher forcing off, {widths}, load {load1():.2f}")
        table(["op", "self time", "calls"], rows)
        results[widths_name] = {row[0]: row[1] for row in rows}
    return results


# -- rollout --------------------------------------------------------------------------------------------
def section_rollout(args, device):
    g = torch.Generator().manual_seed(2)
    firsts = torch.rand(N_TEST_VIDEOS, 3, H, W, generator=g).to(device)
    poses = torch.rand(N_TEST_VIDEOS, args.rollout_frames, 3, H, W, generator=g).to(device)
    base = make_model(args, device, channels_last=False).eval()
    cl = copy.deepcopy(base).to(memory_format=torch.channels_last)
    template = template_layers(base)

    def template_style():
        for v in range(N_TEST_VIDEOS):
            template_rollout(template, firsts[v:v + 1], poses[v:v + 1])

    def ours_one_at_a_time(model):
        with torch.inference_mode():
            for v in range(N_TEST_VIDEOS):
                model.rollout(firsts[v:v + 1], poses[v:v + 1])

    def ours_batched(model, amp="none"):
        with torch.inference_mode(), autocast_context(device, amp):
            model.rollout(firsts, poses)

    variants = {"template (one video, posterior computed)": template_style,
                "ours one at a time, channels_last": lambda: ours_one_at_a_time(cl),
                "ours batched, NCHW": lambda: ours_batched(base),
                "ours batched, channels_last": lambda: ours_batched(cl)}
    if args.amp != "none":
        variants[f"ours batched, channels_last, {args.amp}"] = lambda: ours_batched(cl, args.amp)
    if args.quick:
        variants.pop("ours batched, NCHW")
    n_frames = N_TEST_VIDEOS * (args.rollout_frames - 1)
    load_before = load1()
    seconds = interleaved(variants, args.rollout_repeats, 0, device)
    baseline = seconds["template (one video, posterior computed)"]
    one = seconds["ours one at a time, channels_last"]
    rows = [[name, f"{s:.1f}", f"{n_frames / s:.1f}", f"{baseline / s:.2f}x", f"{one / s:.2f}x"]
            for name, s in seconds.items()]
    print(f"\n## rollout: {N_TEST_VIDEOS} videos x {args.rollout_frames} frames ({n_frames} generated), "
          f"load {load_before:.2f} -> {load1():.2f}")
    table(["variant", "seconds", "frames/s", "vs template", "vs one at a time"], rows)
    return {"seconds": seconds, "frames": n_frames, "load": [load_before, load1()]}


# -- CPU throughput reference -------------------------------------------------------------------------------
def section_peak(args, device):
    """GFLOP/s of a large fp32 GEMM and of this model's heaviest convolution shapes (forward)."""
    n = 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    convs = {"conv3x3 96->96": (96, 96, 3), "conv1x1 172->688": (172, 688, 1)}
    variants = {"GEMM 2048^3": lambda: a @ b}
    flops = {"GEMM 2048^3": 2 * n ** 3}
    if args.amp == "bf16":
        a16, b16 = a.bfloat16(), b.bfloat16()
        variants["GEMM 2048^3 bf16"] = lambda: a16 @ b16
        flops["GEMM 2048^3 bf16"] = 2 * n ** 3
    batch = args.batch * args.frames
    with torch.no_grad():
        for name, (cin, cout, k) in convs.items():
            conv = torch.nn.Conv2d(cin, cout, k, padding=k // 2).to(device).to(memory_format=torch.channels_last)
            x = torch.randn(batch, cin, H, W, device=device).to(memory_format=torch.channels_last)
            variants[name] = (lambda c, t: lambda: c(t))(conv, x)
            flops[name] = 2 * batch * H * W * cin * cout * k * k
        seconds = interleaved(variants, args.repeats + 2, 1, device)
    rates = {name: flops[name] / s / 1e9 for name, s in seconds.items()}
    print(f"\n## throughput reference (fp32, forward, channels_last convs on {batch} frames), load {load1():.2f}")
    table(["kernel", "GFLOP/s"], [[k, f"{v:.1f}"] for k, v in rates.items()])
    peak = max(v for k, v in rates.items() if "bf16" not in k)
    print(f"best fp32 kernel: {peak:.1f} GFLOP/s")
    return {"gflops": rates, "peak": peak}


# -- loader ---------------------------------------------------------------------------------------------------
def section_loader(args):
    """bench_loader.py's measurement: template-style per-item PIL decode+resize vs dataloader.py."""
    from bench_loader import measure_loader
    n_frames = 64 if args.quick else 200
    load_before = load1()
    rows, n, _ = measure_loader(n_frames, (512, 1024), args.frames)
    template_s = rows[0][1]
    print(f"\n## loader: {n_frames} 512x1024 frame pairs, clips of {args.frames}, resized to {H}x{W}, "
          f"load {load_before:.2f} -> {load1():.2f}")
    table(["method", "seconds", "frames/s", "vs template"],
          [[k, f"{s:.3f}", f"{n / s:.0f}", f"{template_s / s:.1f}x"] for k, s in rows])
    return {"seconds": dict(rows), "frames": n}


# -- fresh processes: allocator and peak memory ------------------------------------------------------------------
def child(spec):
    """Run in a fresh process: one measurement, printed as a JSON line."""
    runtime.configure_cpu(spec["threads"])
    device = torch.device(spec["device"])
    args = argparse.Namespace(batch=spec["batch"], frames=spec["frames"])
    result = {"hwm_start_mb": vm_hwm_mb()}
    if spec["what"] == "idle":
        make_model(args, device, channels_last=True)
    elif spec["what"].startswith("step"):
        is_template = spec["what"] == "step_template"
        model = make_model(args, device, channels_last=not is_template)
        loss_fn, model = (template_loss, template_layers(model)) if is_template else (ours_loss, model)
        fn = step_fn(loss_fn, model, clip_data(args, device), spec["tf"])
        result["seconds"] = interleaved({"step": fn}, spec["repeats"], 1, device)["step"]
    elif spec["what"] == "rollout":
        model = make_model(args, device, channels_last=True).eval()
        firsts = torch.rand(N_TEST_VIDEOS, 3, H, W, device=device)
        poses = torch.rand(N_TEST_VIDEOS, spec["rollout_frames"], 3, H, W, device=device)
        start = time.perf_counter()
        with torch.inference_mode():
            model.rollout(firsts, poses)
        sync(device)
        result["seconds"] = time.perf_counter() - start
    result["hwm_mb"] = vm_hwm_mb()
    print(json.dumps(result))


def run_child(args, what, env_extra=None, **extra):
    spec = {"what": what, "threads": torch.get_num_threads(), "device": args.device, "batch": args.batch,
            "frames": args.frames, "tf": True, "repeats": args.repeats, "rollout_frames": args.rollout_frames, **extra}
    env = {**os.environ, **(env_extra or {})}
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def section_allocator(args):
    """Steps in fresh processes (teacher forcing on), alternating: ours with the glibc thresholds off
    and on, and the template-style step as the template runs (NCHW, default allocator), so the last
    row is ours as shipped vs the template as shipped."""
    default_env = {runtime.OPT_OUT_ENV: "1"}
    runs = {"template, NCHW, default allocator": ("step_template", default_env),
            "ours, channels_last, default allocator": ("step_ours", default_env),
            "ours, channels_last, thresholds set (as shipped)": ("step_ours", None)}
    seconds = {name: [] for name in runs}
    load_before = load1()
    for _ in range(1 if args.quick else 2):
        for name, (what, env) in runs.items():
            seconds[name].append(run_child(args, what, env)["seconds"])
    median = {name: statistics.median(s) for name, s in seconds.items()}
    template = median["template, NCHW, default allocator"]
    default = median["ours, channels_last, default allocator"]
    print(f"\n## allocator: one training step per fresh process (B={args.batch}, T={args.frames}, teacher forcing "
          f"on), glibc blocks > 32 MiB are mmapped and unmapped on free unless the thresholds "
          f"({runtime.ALLOCATOR_THRESHOLD >> 20} MiB) are set; load {load_before:.2f} -> {load1():.2f}")
    table(["process", "s/step", "vs default allocator", "vs template"],
          [[name, f"{s:.2f}", f"{default / s:.2f}x" if "ours" in name else "", f"{template / s:.2f}x"]
           for name, s in median.items()])
    return {"seconds": seconds}


def section_memory(args):
    """Each figure from its own process; the rollout is the full test set (timed too) unless --quick."""
    frames = args.rollout_frames if args.quick else N_TEST_FRAMES
    load_before = load1()
    rows = {"python + torch + model (idle)": run_child(args, "idle"),
            "training step, template (NCHW)": run_child(args, "step_template", repeats=1),
            "training step, ours (channels_last)": run_child(args, "step_ours", repeats=1),
            f"rollout, {N_TEST_VIDEOS} x {frames} frames batched (ours)": run_child(args, "rollout",
                                                                                    rollout_frames=frames)}
    print(f"\n## peak memory (VmHWM of a fresh process, each alone), training B={args.batch}, T={args.frames}, "
          f"load {load_before:.2f} -> {load1():.2f}")
    table(["process", "peak RSS MB", "seconds"],
          [[k, f"{v['hwm_mb']:.0f}", f"{v['seconds']:.1f}" if "seconds" in v else ""] for k, v in rows.items()])
    return rows


# -- main ----------------------------------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(DEFAULT_SECTIONS))
    parser.add_argument("--target", type=float, default=29.0, help="val PSNR (dB) of the epoch section's time to quality")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads (default: torch's choice, at most the cores; 1 when the machine is busy)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and variants, 32-frame rollouts")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--amp", choices=("none", "bf16", "fp16", "auto"), default="auto",
                        help="also time our step and rollout under this autocast dtype (auto: bf16 where the "
                             "device runs it natively, as Trainer.py's --amp auto; none: fp32 only)")
    parser.add_argument("--widths", nargs="+", choices=sorted(WIDTHS), default=["template", "preset"],
                        help="networks of the step and profile sections")
    parser.add_argument("--profile_rows", type=int, default=12)
    parser.add_argument("--tf", choices=("both", "off"), default="both",
                        help="teacher forcing modes of the step section (off: the headline only)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16, help="clip length of the training step")
    parser.add_argument("--rollout_frames", type=int, default=None, help="default 630 (32 with --quick)")
    parser.add_argument("--repeats", type=int, default=None, help="timed training steps per variant")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    args.rollout_frames = args.rollout_frames or (32 if args.quick else 630)
    args.repeats = args.repeats or (2 if args.quick else 3)
    args.rollout_repeats = 1
    settings = runtime.configure_cpu(args.threads)
    device = torch.device(args.device)
    args.amp = runtime.resolve_amp(args.amp, device.type)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else "")
          + f", threads {settings['threads']} of {settings['cores']} cores, allocator thresholds "
          f"{'set' if settings['allocator_tuned'] else 'not set'}, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"CPU: {platform.processor() or platform.machine()}, capability {torch.backends.cpu.get_cpu_capability()}, "
          f"bf16 flags {sorted(runtime.BF16_CPU_FLAGS & runtime.cpu_flags()) or 'none'}; amp variant: {args.amp}")
    print(f"rollout model at template widths {TEMPLATE_WIDTHS}")
    results = {"settings": settings, "load_start": os.getloadavg(), "args": {k: str(v) for k, v in vars(args).items()}}
    for section in args.sections:
        if section == "loader":
            results["loader"] = section_loader(args)
        elif section == "peak":
            results["peak"] = section_peak(args, device)
        elif section == "step":
            results["step"] = section_step(args, device)
        elif section == "presets":
            results["presets"] = section_presets(args, device)
        elif section == "profile":
            results["profile"] = section_profile(args, device)
        elif section == "allocator":
            results["allocator"] = section_allocator(args)
        elif section == "rollout":
            results["rollout"] = section_rollout(args, device)
        elif section == "memory":
            results["memory"] = section_memory(args)
        elif section == "epoch":
            import bench_epoch
            bench_epoch.main(["--threads", str(settings["threads"]), "--amp", "auto" if args.amp != "none" else "none",
                              "--train", "--target", str(args.target)])
    results["load_end"] = os.getloadavg()
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
