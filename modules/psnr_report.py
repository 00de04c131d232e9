"""val_PSNR.py: per-frame quality of validation rollouts, as a plot, a CSV and a summary.

Sampling modes, each labelled in the file names and the legend:
  prior      K samples with z ~ N(0, I) (the course's protocol); the plot shows their mean and a
             +-1 std band when K > 1.
  zero       z = 0 (the prior's mean): one deterministic rollout.
  best_of_k  K prior samples, keeping the one with the highest mean PSNR, as the video-prediction
             literature reports (SVG, SRVP); an optimistic number, not the test protocol.
Metrics per frame 1..T-1: PSNR on the float outputs (``modules.metrics.psnr_per_frame``), SSIM
(``modules.ssim``), and the Kaggle-style PSNR: both videos quantised to 8 bits, frames 1..600.
"""
import argparse
import csv
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from .config import add_data_args, add_model_args, add_runtime_args, add_speed_args  # noqa: E402
from .errors import UserInputError  # noqa: E402
from .inference import describe_model, generate, load_inference_model, prepare_output_dir  # noqa: E402
from .metrics import psnr_per_frame  # noqa: E402
from .ssim import ssim_per_frame  # noqa: E402
from .submission import SCORED_FRAMES, psnr_8bit, scored_frames, to_pixels  # noqa: E402
from .training import dataset_root  # noqa: E402

MODES = ("prior", "zero", "best_of_k")
MODE_NAMES = {"prior": "prior z", "zero": "zero z", "best_of_k": "best of K"}


def build_val_psnr_parser():
    parser = argparse.ArgumentParser(
        description="Per-frame PSNR/SSIM of validation rollouts of a trained checkpoint: a plot, a CSV and a "
                    "summary in --save_root (default: the checkpoint's run folder).")
    for add in (add_data_args, add_model_args, add_runtime_args, add_speed_args):
        add(parser)
    group = parser.add_argument_group("val_PSNR")
    group.add_argument("--mode", choices=MODES, default="prior",
                       help="prior: z ~ N(0, I); zero: z = 0; best_of_k: best of --num_samples prior samples")
    group.add_argument("--num_samples", type=int, default=1, metavar="K",
                       help="rollouts sampled in one batch (prior: mean and band; best_of_k: K > 1 needed)")
    return parser


def run_label(mode, num_samples):
    """File-name label of a run: ``prior``, ``prior_k8``, ``zero``, ``best_of_8``."""
    if mode == "best_of_k":
        return f"best_of_{num_samples}"
    return f"{mode}_k{num_samples}" if num_samples > 1 else mode


def check_sampling(mode, num_samples):
    if num_samples < 1:
        raise UserInputError(f"--num_samples must be at least 1, got {num_samples}")
    if mode == "best_of_k" and num_samples < 2:
        raise UserInputError("--mode best_of_k needs --num_samples K with K > 1 (e.g. --num_samples 10)")
    if mode == "zero" and num_samples > 1:
        raise UserInputError("--mode zero is deterministic: every sample would be the same; drop --num_samples")


@torch.inference_mode()
def analyse(model, frames, poses, *, mode="prior", num_samples=1, seed=0, amp="none"):
    """Roll out one validation video K times (one batched rollout) and measure every frame.

    frames, poses: (T, 3, H, W) in [0, 1] on the model's device. Returns a dict of numpy arrays over
    samples k and frames 1..T-1: ``psnr`` and ``ssim`` (K', T-1), ``kaggle_psnr`` (K',) (8-bit PSNR
    averaged over frames 1..600), where K' = 1 for ``zero`` and ``best_of_k`` (the kept sample,
    ``chosen``) and K otherwise; ``sample_avg_psnr`` (K,) the mean PSNR of every sample drawn; and
    ``video`` (T, 3, H, W), the first kept sample.
    """
    check_sampling(mode, num_samples)
    batch = 1 if mode == "zero" else num_samples
    first = frames[:1].expand(batch, -1, -1, -1)
    pose_batch = poses.unsqueeze(0).expand(batch, -1, -1, -1, -1)
    videos = generate(model, first, pose_batch, seed=seed, z_mode="zero" if mode == "zero" else "prior", amp=amp)
    truth = frames.float().cpu().unsqueeze(0).expand_as(videos)
    psnr = psnr_per_frame(videos[:, 1:], truth[:, 1:]).numpy()
    ssim = ssim_per_frame(videos[:, 1:], truth[:, 1:]).numpy()
    kept = scored_frames(videos.shape[1])
    kaggle = psnr_8bit(to_pixels(videos[:, kept]), to_pixels(truth[:, kept])).mean(axis=1)
    sample_avg = psnr.mean(axis=1)
    chosen = None
    if mode == "best_of_k":
        chosen = int(sample_avg.argmax())
        keep = slice(chosen, chosen + 1)
        psnr, ssim, kaggle, videos = psnr[keep], ssim[keep], kaggle[keep], videos[keep]
    return {"psnr": psnr, "ssim": ssim, "kaggle_psnr": kaggle, "chosen": chosen, "video": videos[0],
            "kaggle_frames": kept, "sample_avg_psnr": sample_avg}


def summarise(result, *, mode, num_samples, seed):
    """The summary numbers of :func:`analyse`'s result (a JSON-able dict)."""
    per_sample = result["sample_avg_psnr"]
    frames = result["kaggle_frames"]
    summary = {"mode": mode, "label": MODE_NAMES[mode], "num_samples": num_samples, "seed": seed,
               "frames": int(result["psnr"].shape[1]) + 1,
               "avg_psnr": float(result["psnr"].mean()),
               "sample_avg_psnr": [round(float(p), 4) for p in per_sample],
               "avg_psnr_std_over_samples": float(per_sample.std()),
               "kaggle_psnr": float(result["kaggle_psnr"].mean()),
               "kaggle_frames": f"{frames[0]}..{frames[-1]}" if frames else "none",
               "ssim": float(result["ssim"].mean())}
    if result["chosen"] is not None:
        summary["chosen_sample"] = result["chosen"]
    return summary


def write_per_frame_csv(result, path):
    """frame, psnr mean/std/min/max and ssim mean/std over the samples, one row per frame 1..T-1."""
    psnr, ssim = result["psnr"], result["ssim"]
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frame", "psnr", "psnr_std", "psnr_min", "psnr_max", "ssim", "ssim_std"])
        for t in range(psnr.shape[1]):
            p, s = psnr[:, t], ssim[:, t]
            writer.writerow([t + 1] + [f"{x:.4f}" for x in (p.mean(), p.std(), p.min(), p.max())]
                            + [f"{x:.5f}" for x in (s.mean(), s.std())])
    os.replace(tmp, path)
    return path


def plot_per_frame_psnr(result, summary, path, title=""):
    """PSNR against the frame index; the mean in the legend; a +-1 std band over samples when K > 1."""
    psnr = result["psnr"]
    frames = np.arange(1, psnr.shape[1] + 1)
    mean = psnr.mean(axis=0)
    label = f"{summary['label']}"
    if summary["mode"] != "zero":
        label += f", K={summary['num_samples']}"
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(frames, mean, linewidth=1, label=f"{label}: mean {summary['avg_psnr']:.2f} dB")
    if psnr.shape[0] > 1:
        std = psnr.std(axis=0)
        ax.fill_between(frames, mean - std, mean + std, alpha=0.3, label="+-1 std over samples")
    last_scored = SCORED_FRAMES[-1]
    if psnr.shape[1] > last_scored:
        ax.axvline(last_scored, color="grey", linestyle=":", linewidth=1,
                   label=f"Kaggle scores frames {SCORED_FRAMES[0]}-{last_scored}")
    ax.set_xlabel("frame index")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title or "per-frame PSNR of the validation rollout")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def load_val_video(root, cfg):
    """The validation video of ``root``: (frames, poses), each (val_vi_len, 3, H, W) in [0, 1]."""
    from dataloader import Dataset_Dance
    val_set = Dataset_Dance(root, mode="val", video_len=cfg.val_vi_len, frame_H=cfg.frame_H, frame_W=cfg.frame_W)
    return val_set[0]


def val_psnr_report(cfg):
    """What val_PSNR.py does; returns the summary dict (also written next to the plot and the CSV)."""
    check_sampling(cfg.mode, cfg.num_samples)
    model, device, ckpt = load_inference_model(cfg)
    print(describe_model(cfg, ckpt))
    out = prepare_output_dir(cfg.save_root, cfg.ckpt_path)
    root = dataset_root(cfg)
    frames, poses = load_val_video(root, cfg)
    result = analyse(model, frames.to(device), poses.to(device), mode=cfg.mode, num_samples=cfg.num_samples,
                     seed=cfg.seed, amp=cfg.amp)
    summary = summarise(result, mode=cfg.mode, num_samples=cfg.num_samples, seed=cfg.seed)
    summary.update(checkpoint=str(cfg.ckpt_path), epoch=ckpt.get("epoch"), dataset=str(root))
    label = run_label(cfg.mode, cfg.num_samples)
    title = f"{Path(cfg.ckpt_path).name} (epoch {ckpt.get('epoch', '?')}), validation video, {summary['label']}"
    paths = {"plot": plot_per_frame_psnr(result, summary, out / f"val_psnr_{label}.png", title),
             "csv": write_per_frame_csv(result, out / f"val_psnr_{label}.csv")}
    summary["files"] = {k: str(v) for k, v in paths.items()}
    summary_path = out / f"val_psnr_{label}.json"
    tmp = summary_path.with_name(f".{summary_path.name}.tmp")
    tmp.write_text(json.dumps(summary, indent=1) + "\n")
    os.replace(tmp, summary_path)
    print(f"{summary['label']} (K={cfg.num_samples}, seed {cfg.seed}) over frames 1..{summary['frames'] - 1}: "
          f"PSNR {summary['avg_psnr']:.3f} dB (float), Kaggle-style {summary['kaggle_psnr']:.3f} dB "
          f"(8-bit, frames {summary['kaggle_frames']}), SSIM {summary['ssim']:.4f}")
    print(f"wrote {paths['plot']}, {paths['csv']}, {summary_path}")
    return summary
