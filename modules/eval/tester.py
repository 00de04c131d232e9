"""What Tester.py does: roll out the test videos and write the Kaggle submission (+ GIFs, a local score)."""
import time

import numpy as np

from ..data.datasets import dataset_root, load_ground_truth, load_test_set
from ..errors import UserInputError
from ..io import write_json
from .inference import describe_model, load_inference_model, prepare_output_dir
from .media import GIF_SCALE, VIDEO_FPS, mp4_available, save_gif, save_mp4
from .metrics import copy_baseline, moving_psnr, silhouette_iou, vacated_psnr
from .rollout import generate, require_finite
from .submission import (format_scores, read_submission, require_kaggle_frame_size, score, to_pixels,
                         write_submission)

SUMMARY_NAME = "test_summary.json"


def make_submission(cfg):
    """Roll out every test video of ``--DR`` with the ``--ckpt_path`` model and write
    ``submission.csv`` (+ GIFs/MP4s with ``--make_gif``, + local scores when the dataset has test
    ground truth) to ``--save_root``. Returns a summary dict (also written as test_summary.json).
    """
    started = time.perf_counter()
    require_kaggle_frame_size(cfg.frame_H, cfg.frame_W)
    model, device, ckpt = load_inference_model(cfg)
    print(describe_model(cfg, ckpt))
    out = prepare_output_dir(cfg.save_root, cfg.ckpt_path, SUMMARY_NAME, writes=("submission", "test_summary",
                                                                               "pred_seq*"))
    root = dataset_root(cfg.DR)
    names, first_frames, poses = load_test_set(root, cfg.frame_H, cfg.frame_W, cfg.test_vi_len)
    print(f"{len(names)} test videos ({', '.join(names)}) x {poses.shape[1]} frames from {root}")

    timer = time.perf_counter()
    videos = generate(model, first_frames.to(device), poses.to(device), seed=cfg.seed, amp=cfg.amp)
    rollout_s = time.perf_counter() - timer
    require_finite(videos, cfg.ckpt_path, model)
    print(f"rollout (prior z, seed {cfg.seed}) on {device}: {rollout_s:.1f}s")

    timer = time.perf_counter()
    csv_path = write_submission(videos, out / "submission.csv")
    csv_s = time.perf_counter() - timer
    summary = {"checkpoint": str(cfg.ckpt_path), "epoch": ckpt.get("epoch"), "dataset": str(root),
               "videos": names, "frames_per_video": int(poses.shape[1]), "z_mode": "prior", "seed": cfg.seed,
               "device": str(device), "rollout_s": rollout_s, "csv_write_s": csv_s,
               "csv_bytes": csv_path.stat().st_size, "submission": str(csv_path)}
    print(f"wrote {csv_path} ({summary['csv_bytes'] / 1e6:.1f} MB, {len(names) * poses.shape[1]} rows) "
          f"in {csv_s:.1f}s")

    if not cfg.no_sanity:
        timer = time.perf_counter()
        check_submission_file(csv_path, videos)
        print(f"sanity check: {csv_path.name} reads back as the clamped prediction "
              f"({time.perf_counter() - timer:.1f}s)")

    scores = local_score(root, videos, cfg.frame_H, cfg.frame_W)
    if scores is not None:
        summary["scores"] = scores
    if cfg.make_gif:
        write_videos(names, videos, out)

    summary["total_s"] = time.perf_counter() - started
    write_json(out / SUMMARY_NAME, summary)
    print(f"done in {summary['total_s']:.1f}s; summary in {out / SUMMARY_NAME}")
    return summary


def local_score(root, videos, frame_H, frame_W):
    """Score the prediction against the dataset's test ground truth when it has one (None otherwise):
    the Kaggle formula, the moving-region and vacated-region PSNRs and the silhouette IoU (over frames
    1..T-1), and copying frame 0 beside each. The submission is already written: a problem with the
    ground truth is reported, not raised."""
    try:
        truth = load_ground_truth(root, frame_H, frame_W)
        if truth is None:
            return None
        if truth.shape != videos.shape:
            raise UserInputError(f"{root / 'test' / 'test_img_gt'} holds videos of shape {tuple(truth.shape)}, "
                                 f"the prediction is {tuple(videos.shape)}")
    except UserInputError as err:
        print(f"not scored: {err}")
        return None
    result = score(to_pixels(videos), to_pixels(truth))
    copied = score(to_pixels(truth[:, :1].expand_as(truth)), to_pixels(truth))
    region = {"moving_psnr": moving_psnr(videos, truth).numpy(), "vacated_psnr": vacated_psnr(videos, truth).numpy(),
              "silhouette_iou": silhouette_iou(videos, truth).numpy()}
    baseline = copy_baseline(truth)
    print("local score against test/test_img_gt (the course's Kaggle formula):")
    print(format_scores(result))
    print(f"copying frame 0 instead: public {copied['public']:.3f}, overall {copied['overall']:.3f} dB")
    for name, what, unit in (("moving_psnr", "moving pixels (|truth - frame 0| > threshold)", " dB"),
                             ("vacated_psnr", "vacated region (frame 0's dancer gone)", " dB"),
                             ("silhouette_iou", "dancer-silhouette IoU", "")):
        print(f"{what}: {np.nanmean(region[name]):.3f}{unit} (copying frame 0: {baseline[name]:.3f}{unit})")
    return {**{k: result[k] for k in ("public", "private", "overall")}, "per_video": result["per_video"].tolist(),
            "copy": {k: copied[k] for k in ("public", "private", "overall")},
            **{k: float(np.nanmean(v)) for k, v in region.items()},
            **{f"{k}_per_video": v.tolist() for k, v in region.items()},
            **{f"copy_{k}": baseline[k] for k in region}}


def write_videos(names, videos, out):
    """pred_seq<v>.gif (and .mp4 when imageio-ffmpeg is installed) for every video."""
    mp4 = mp4_available()
    for name, video in zip(names, videos):
        save_gif(video, out / f"pred_seq{name}.gif", fps=VIDEO_FPS, scale=GIF_SCALE)
        if mp4:
            save_mp4(video, out / f"pred_seq{name}.mp4")
    print(f"wrote pred_seq<v>.gif{' and .mp4' if mp4 else ''} for {len(names)} videos"
          + ("" if mp4 else " (MP4 needs the optional imageio-ffmpeg package: pip install imageio-ffmpeg)"))


def check_submission_file(path, videos):
    """Read a written submission back and check it equals the clamped, rounded prediction."""
    stored = read_submission(path, frames_per_video=videos.shape[1], frame_shape=tuple(videos.shape[2:]),
                             n_videos=videos.shape[0])
    if not np.array_equal(stored, to_pixels(videos)):
        raise RuntimeError(f"{path} does not read back as the prediction it was written from")
