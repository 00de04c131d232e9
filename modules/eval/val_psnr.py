"""val_PSNR.py: per-frame quality of validation rollouts, as a plot, a CSV and a summary.

Sampling modes, each labelled in the file names and the legend:
  prior      K samples with z ~ N(0, I) (the course's protocol); the plot shows their mean and a
             +-1 std band when K > 1.
  zero       z = 0 (the prior's mean): one deterministic rollout.
  best_of_k  K prior samples, keeping the one with the highest mean PSNR, as the video-prediction
             literature reports (SVG, SRVP); an optimistic number, not the test protocol.
Metrics (``modules.eval.rollout.score_videos``): per frame 1..T-1 PSNR on the float outputs and
SSIM; per video the Kaggle-style PSNR (both videos quantised to 8 bits, frames 1..600), the PSNR over
the moving pixels and over the vacated region, and the dancer-silhouette IoU, with copying frame 0 as the
baseline of all but the Kaggle-style PSNR.
"""
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..data.datasets import dataset_root, load_val_video  # noqa: E402
from ..errors import UserInputError  # noqa: E402
from ..io import atomic_path, save_figure, write_json  # noqa: E402
from .inference import describe_model, load_inference_model, prepare_output_dir  # noqa: E402
from .rollout import rollout_and_score  # noqa: E402
from .submission import SCORED_FRAMES  # noqa: E402

MODE_NAMES = {"prior": "prior z", "zero": "zero z", "best_of_k": "best of K"}


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


def out_of_memory(err):
    """Whether ``err`` is an allocation failure (CPU: "can't allocate memory"; CUDA: "out of memory")."""
    return isinstance(err, MemoryError) or any(s in str(err) for s in ("can't allocate memory", "out of memory"))


def output_bytes(num_samples, frames):
    """The float32 bytes of ``num_samples`` rollouts of ``frames`` (T, 3, H, W)."""
    return 4 * num_samples * frames.numel()


def analyse(model, frames, poses, *, mode="prior", num_samples=1, seed=0, amp="none", source=None):
    """Roll out one validation video K times (one batched rollout) and measure every frame.

    frames, poses: (T, 3, H, W) in [0, 1] on the model's device. Returns a dict of numpy arrays over
    samples k: ``psnr`` and ``ssim`` (K', T-1), ``kaggle_psnr``, ``moving_psnr``, ``vacated_psnr`` and
    ``silhouette_iou`` (K',), where
    K' = 1 for ``zero`` and ``best_of_k`` (the kept sample, ``chosen``) and K otherwise;
    ``sample_avg_psnr`` (K,) the mean PSNR of every sample drawn; ``video`` (T, 3, H, W), the first
    kept sample; ``copy`` the copy-frame-0 baseline. ``source`` (the checkpoint): refuse a NaN/inf rollout
    before it is scored (:func:`modules.eval.rollout.require_finite`).
    """
    check_sampling(mode, num_samples)
    result = rollout_and_score(model, frames, poses, num_samples=1 if mode == "zero" else num_samples, seed=seed,
                               z_mode="zero" if mode == "zero" else "prior", amp=amp, source=source)
    result["sample_avg_psnr"] = result["psnr"].mean(axis=1)
    result["chosen"] = None
    if mode == "best_of_k":
        result["chosen"] = int(result["sample_avg_psnr"].argmax())
        keep = slice(result["chosen"], result["chosen"] + 1)
        for key in ("psnr", "ssim", "kaggle_psnr", "moving_psnr", "vacated_psnr", "silhouette_iou", "mse", "videos"):
            result[key] = result[key][keep]
    result["video"] = result["videos"][0]
    return result


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
               "ssim": float(result["ssim"].mean()),
               "moving_psnr": float(np.nanmean(result["moving_psnr"])),
               "vacated_psnr": float(np.nanmean(result["vacated_psnr"])),
               "silhouette_iou": float(np.nanmean(result["silhouette_iou"])),
               "copy_psnr": result["copy"]["psnr"], "copy_moving_psnr": result["copy"]["moving_psnr"],
               "copy_vacated_psnr": result["copy"]["vacated_psnr"],
               "copy_silhouette_iou": result["copy"]["silhouette_iou"],
               "moving_share": result["copy"]["moving_share"]}
    if result["chosen"] is not None:
        summary["chosen_sample"] = result["chosen"]
    return summary


def write_per_frame_csv(result, path):
    """frame, psnr mean/std/min/max and ssim mean/std over the samples, one row per frame 1..T-1."""
    psnr, ssim = result["psnr"], result["ssim"]
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frame", "psnr", "psnr_std", "psnr_min", "psnr_max", "ssim", "ssim_std"])
        for t in range(psnr.shape[1]):
            p, s = psnr[:, t], ssim[:, t]
            writer.writerow([t + 1] + [f"{x:.4f}" for x in (p.mean(), p.std(), p.min(), p.max())]
                            + [f"{x:.5f}" for x in (s.mean(), s.std())])
    return path


def plot_per_frame_psnr(result, summary, path, title=""):
    """:func:`per_frame_psnr_figure` saved to ``path``."""
    fig = per_frame_psnr_figure(result, summary, title)
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return Path(path)


def per_frame_psnr_figure(result, summary, title=""):
    """PSNR against the frame index; the mean in the legend; a +-1 std band over samples when K > 1.
    ``result["psnr"]`` is (K, T-1); ``summary`` as :func:`summarise` gives it. Training logs the same
    figure to TensorBoard every epoch."""
    psnr = result["psnr"]
    frames = np.arange(1, psnr.shape[1] + 1)
    mean = psnr.mean(axis=0)
    label = f"{summary['label']}"
    if summary["mode"] != "zero":
        label += f", K={summary['num_samples']}"
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(frames, mean, linewidth=1, label=f"{label}: mean {summary['avg_psnr']:.2f} dB "
                                             f"(moving pixels {summary['moving_psnr']:.2f} dB)")
    if psnr.shape[0] > 1:
        std = psnr.std(axis=0)
        ax.fill_between(frames, mean - std, mean + std, alpha=0.3, label="+-1 std over samples")
    last_scored = SCORED_FRAMES[-1]
    if psnr.shape[1] > last_scored:
        ax.axvline(last_scored, color="grey", linestyle=":", linewidth=1,
                   label=f"Kaggle scores frames {SCORED_FRAMES[0]}-{last_scored}")
    ax.axhline(summary["copy_psnr"], color="grey", linestyle="--", linewidth=1,
               label=f"copying frame 0: {summary['copy_psnr']:.2f} dB (moving {summary['copy_moving_psnr']:.2f})")
    ax.set_xlabel("frame index")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title or "per-frame PSNR of the validation rollout")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def val_psnr_report(cfg):
    """What val_PSNR.py does; returns the summary dict (also written next to the plot and the CSV)."""
    check_sampling(cfg.mode, cfg.num_samples)
    model, device, ckpt = load_inference_model(cfg)
    print(describe_model(cfg, ckpt))
    label = run_label(cfg.mode, cfg.num_samples)
    out = prepare_output_dir(cfg.save_root, cfg.ckpt_path, f"val_psnr_{label}.json", writes=(f"val_psnr_{label}",))
    root = dataset_root(cfg.DR)
    frames, poses = load_val_video(root, (cfg.frame_H, cfg.frame_W), cfg.val_vi_len)
    try:
        result = analyse(model, frames.to(device), poses.to(device), mode=cfg.mode, num_samples=cfg.num_samples,
                         seed=cfg.seed, amp=cfg.amp, source=cfg.ckpt_path)
    except (MemoryError, RuntimeError) as err:  # torch.OutOfMemoryError is a RuntimeError
        if not out_of_memory(err):
            raise
        size = output_bytes(cfg.num_samples, frames) / 1e9
        raise UserInputError(f"out of memory rolling out --num_samples {cfg.num_samples} samples of the "
                             f"{len(frames)}-frame validation video on {device} in one batch (the outputs alone "
                             f"take {size:.1f} GB): lower --num_samples") from None
    summary = summarise(result, mode=cfg.mode, num_samples=cfg.num_samples, seed=cfg.seed)
    summary.update(checkpoint=str(cfg.ckpt_path), epoch=ckpt.get("epoch"), dataset=str(root))
    title = f"{Path(cfg.ckpt_path).name} (epoch {ckpt.get('epoch', '?')}), validation video, {summary['label']}"
    paths = {"plot": plot_per_frame_psnr(result, summary, out / f"val_psnr_{label}.png", title),
             "csv": write_per_frame_csv(result, out / f"val_psnr_{label}.csv")}
    summary["files"] = {k: str(v) for k, v in paths.items()}
    summary_path = write_json(out / f"val_psnr_{label}.json", summary)
    print(f"{summary['label']} (K={cfg.num_samples}, seed {cfg.seed}) over frames 1..{summary['frames'] - 1}: "
          f"PSNR {summary['avg_psnr']:.3f} dB (float), Kaggle-style {summary['kaggle_psnr']:.3f} dB "
          f"(8-bit, frames {summary['kaggle_frames']}), SSIM {summary['ssim']:.4f}; moving pixels "
          f"{summary['moving_psnr']:.3f} dB, vacated region {summary['vacated_psnr']:.3f} dB, silhouette IoU "
          f"{summary['silhouette_iou']:.3f}; copying frame 0: {summary['copy_psnr']:.3f} / "
          f"{summary['copy_moving_psnr']:.3f} / {summary['copy_vacated_psnr']:.3f} dB / IoU "
          f"{summary['copy_silhouette_iou']:.3f}")
    print(f"wrote {paths['plot']}, {paths['csv']}, {summary_path}")
    return summary
