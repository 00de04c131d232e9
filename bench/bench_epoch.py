"""Where an epoch of a training preset goes, and how fast presets reach a quality, side by side.

    python bench/bench_epoch.py                                    # parts of an epoch, cpu_pyramid vs lab4
    python bench/bench_epoch.py --presets cpu_pyramid --amp none   # one preset, fp32 only
    python bench/bench_epoch.py --train --target 29                # + both presets trained, time to 29 dB

``parts`` (always): the training step of each preset (forward of each of the five networks,
backward, optimiser; the rest is the loss and Python), times its batches per epoch; the 630-frame
validation rollout; a checkpoint; the four curves; the rollout GIF; summed into an epoch as the
preset runs it (validation every --val_every epochs). fp32, and bf16 where the CPU runs it natively
(--amp auto), as Trainer.py would. ``--train``: Trainer.py runs every preset on the synthetic data
(one after another, --threads each) and the table gives the measured seconds per epoch, the time
to --target dB of val PSNR (training seconds summed over epochs up to the first that reaches it) and
the best val PSNR. Results and the CPU they came from: docs/performance.md.
"""
import argparse
import copy
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from modules import runtime  # noqa: E402
from modules.architectures import build_vae, model_config  # noqa: E402
from modules.checkpoint import save_checkpoint  # noqa: E402
from modules.config import VIDEO_LEN, parse_train_args  # noqa: E402
from modules.eval.media import save_gif  # noqa: E402
from modules.eval.rollout import generate  # noqa: E402
from modules.objective import candidate_loss, cvae_loss  # noqa: E402
from modules.train.plots import plot_training_curves  # noqa: E402
from modules.train.runlog import read_metrics, write_metrics  # noqa: E402
from modules.train.setup import training_state  # noqa: E402

NETWORKS = ("frame_transformation", "label_transformation", "Gaussian_Predictor", "Decoder_Fusion", "Generator")
H, W = 32, 64
TRAIN_FRAMES = 3200  # the synthetic train set: 8 videos x 400 frames, cut into clips of --train_vi_len


def median_time(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class NetworkTimer:
    """Forward seconds of each top-level network, from hooks around their calls."""

    def __init__(self, model):
        self.seconds = dict.fromkeys(NETWORKS, 0.0)
        self.started = {}
        for name in NETWORKS:
            module = getattr(model, name)
            module.register_forward_pre_hook(lambda *_, name=name: self.started.__setitem__(name, time.perf_counter()))
            module.register_forward_hook(lambda *_, name=name: self._stop(name))

    def _stop(self, name):
        self.seconds[name] += time.perf_counter() - self.started[name]


def step_parts(cfg, amp, repeats):
    """Seconds of one training step of ``cfg``'s preset: each network's forward, backward, optimiser, total."""
    torch.manual_seed(0)
    model = build_vae(model_config(vars(cfg))).to(memory_format=torch.channels_last)
    timer = NetworkTimer(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    g = torch.Generator().manual_seed(1)
    frames, poses = (torch.rand(cfg.batch_size, cfg.train_vi_len, 3, H, W, generator=g) for _ in "fp")
    split = {"backward": [], "optimiser": [], "rest": [], "total": [], **{name: [] for name in NETWORKS}}
    for round_ in range(repeats + 1):
        timer.seconds = dict.fromkeys(NETWORKS, 0.0)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with runtime.autocast_context(torch.device("cpu"), amp):
            pred, mu, logvar, parts = model(frames, poses, False, with_parts=True)
        loss = cvae_loss(pred, frames[:, 1:], mu, logvar, 1.0, cfg.kl_reduction)["loss"]
        loss = loss + candidate_loss(parts, frames[:, 1:])
        backward = time.perf_counter()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        step = time.perf_counter()
        optimizer.step()
        end = time.perf_counter()
        if round_:  # the first round warms up
            for name, seconds in timer.seconds.items():
                split[name].append(seconds)
            split["backward"].append(step - backward)
            split["optimiser"].append(end - step)
            split["total"].append(end - start)
            split["rest"].append(backward - start - sum(timer.seconds.values()))  # loss, Python, the head's glue
    return model, {name: statistics.median(values) for name, values in split.items()}


def epoch_parts(preset, amp, repeats):
    """Seconds per epoch of ``preset`` under ``amp``, part by part."""
    cfg = parse_train_args(["--preset", preset])
    model, step = step_parts(cfg, amp, repeats)
    batches = TRAIN_FRAMES // cfg.train_vi_len // cfg.batch_size
    g = torch.Generator().manual_seed(2)
    video = torch.rand(1, VIDEO_LEN, 3, H, W, generator=g)
    rollout = median_time(lambda: generate(model, video[:, 0], video, amp=amp), 1)
    state = training_state(model, torch.optim.Adam(model.parameters()), torch.optim.lr_scheduler.StepLR(
        torch.optim.Adam(model.parameters()), 1), next_epoch=1, best_psnr=0.0, cfg=copy.copy(cfg))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        checkpoint = median_time(lambda: save_checkpoint(tmp / "last.pt", state), repeats)
        rows = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_psnr": 25.0 + e / 10, "beta": 1.0, "tfr": 0.0}
                for e in range(20)]
        write_metrics(tmp / "metrics.csv", rows)
        curves = median_time(lambda: plot_training_curves(tmp / "metrics.csv", tmp), repeats)
        panel = torch.cat([video[0]] * 3, dim=-1)
        gif = median_time(lambda: save_gif(panel, tmp / "val.gif", scale=2, palette="shared"), 1)
    per_epoch = {f"forward, {name}": step[name] * batches for name in NETWORKS}
    per_epoch["forward, loss and the rest"] = step["rest"] * batches
    per_epoch["backward (+ grad clipping)"] = step["backward"] * batches
    per_epoch["optimiser"] = step["optimiser"] * batches
    validated = 1 / cfg.val_every  # the share of epochs that validate
    per_epoch[f"validation rollout, {VIDEO_LEN} frames (/ --val_every)"] = rollout * validated
    per_epoch["GIF (encoded once; / --val_every)"] = gif * validated
    per_epoch["checkpoints (last.pt, + best.pt when validated)"] = checkpoint * (1 + validated)
    per_epoch["curves (4 PNGs)"] = curves
    return {"step": step["total"], "batches": batches, "val_every": cfg.val_every, "parts": per_epoch}


def print_parts(results):
    names = list(results)
    rows = list(next(iter(results.values()))["parts"])
    print(f"\n## seconds per epoch, part by part (synthetic train set: {TRAIN_FRAMES} frames), "
          f"load {os.getloadavg()[0]:.2f}")
    width = max(len(r) for r in rows) + 2
    print("part".ljust(width) + "".join(n.rjust(26) for n in names))
    print("training step (s) x batches".ljust(width) + "".join(f"{results[n]['step']:.3f} x {results[n]['batches']}".rjust(26)
                                                    for n in names))
    print("--val_every".ljust(width) + "".join(f"{results[n]['val_every']}".rjust(26) for n in names))
    for row in rows:
        print(row.ljust(width) + "".join(f"{results[n]['parts'][row]:.2f}".rjust(26) for n in names))
    print("epoch".ljust(width) + "".join(f"{sum(results[n]['parts'].values()):.1f}".rjust(26) for n in names))


# -- whole trainings --------------------------------------------------------------------------------------
def train(preset, out, threads, extra):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, str(ROOT / "Trainer.py"), "--preset", preset, "--device", "cpu", "--save_root", str(out),
           "--overwrite", *extra]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_to(rows, target):
    """Training seconds summed up to the first epoch whose val PSNR reaches ``target`` (NaN: never)."""
    seconds = 0.0
    for row in rows:
        seconds += row["seconds"]
        if row["val_psnr"] >= target:
            return seconds
    return math.nan


def print_trainings(presets, args):
    print(f"\n## whole trainings, {args.threads} thread(s), one after another; target {args.target} dB val PSNR")
    print(f"{'preset':<20}{'whole run s':>12}{'s/epoch':>10}{'epochs':>8}{'to target s':>13}{'best dB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            out = Path(tmp) / preset
            wall = train(preset, out, args.threads, args.train_flags)
            rows = read_metrics(out / "metrics.csv")
            best = max((r["val_psnr"] for r in rows if r["val_psnr"] == r["val_psnr"]), default=math.nan)
            print(f"{preset:<20}{wall:>12.0f}{statistics.mean(r['seconds'] for r in rows):>10.1f}{len(rows):>8}"
                  f"{time_to(rows, args.target):>13.0f}{best:>9.2f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["cpu_pyramid", "lab4"])
    parser.add_argument("--amp", choices=("none", "auto"), default="auto",
                        help="auto: also bf16 where the CPU runs it natively; none: fp32 only")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5, help="timed training steps per preset")
    parser.add_argument("--train", action="store_true", help="also train every preset (minutes each)")
    parser.add_argument("--target", type=float, default=29.0, help="val PSNR (dB) for the time-to-quality column")
    parser.add_argument("--train_flags", nargs=argparse.REMAINDER, default=[],
                        help="extra Trainer.py flags for --train (e.g. --seed 1), last on the line")
    args = parser.parse_args(argv)
    settings = runtime.configure_cpu(args.threads)
    args.threads = settings["threads"]
    amps = ["none"] + (["bf16"] if runtime.resolve_amp(args.amp, "cpu") == "bf16" else [])
    print(runtime.describe_hardware(torch.device("cpu"), "none").replace(", fp32", "") +
          f"; torch {torch.__version__}; precisions: {', '.join('fp32' if a == 'none' else a for a in amps)}")
    results = {f"{preset}, {'fp32' if amp == 'none' else amp}": epoch_parts(preset, amp, args.repeats)
               for preset in args.presets for amp in amps}
    print_parts(results)
    if args.train:
        print_trainings(args.presets, args)


if __name__ == "__main__":
    main()
