"""Inference from a trained checkpoint: load the model, roll out the test videos, make the submission.

Used by Tester.py (``make_submission``) and val_PSNR.py (``load_inference_model``). A checkpoint of
ours carries its config, so the network flags come from it; a course-template checkpoint has none
(config {}), so they come from the command line, whose defaults are the template's widths.
"""
import argparse
import importlib.util
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, load_model_weights
from .config import (MODEL_KEYS, add_data_args, add_model_args, add_runtime_args, add_speed_args,
                     add_training_args, model_kwargs, parse_with_preset)
from .errors import UserInputError
from .media import save_gif, to_uint8_hwc
from .submission import (FRAMES_PER_VIDEO, format_scores, read_submission, score, to_pixels,
                         write_submission)
from .training import autocast_context, dataset_root, resolve_device
from .vae import Z_MODES, VAE_Model

GIF_SCALE = 2
VIDEO_FPS = 20


# -- Tester.py's flags ------------------------------------------------------------------------------
def build_test_parser():
    """Tester.py's flags: Trainer.py's (as in the course template) plus the Tester-only ones.

    The training flags are accepted so a Trainer.py command line works unchanged; they do nothing
    here. The network flags only matter for a course-template checkpoint (ours store them).
    """
    parser = argparse.ArgumentParser(
        description="Make the Kaggle submission (submission.csv) of a trained checkpoint. Output folder "
                    "(--save_root) defaults to the checkpoint's run folder; --DR defaults to the embedded "
                    "synthetic dataset. Training flags are accepted and ignored.")
    for add in (add_data_args, add_model_args, add_runtime_args, add_training_args, add_speed_args):
        add(parser)
    group = parser.add_argument_group("test")
    group.add_argument("--test_vi_len", type=int, default=FRAMES_PER_VIDEO,
                       help="pose labels (= output frames) every test video must have")
    group.add_argument("--z_mode", choices=Z_MODES, default="prior",
                       help="latents of the rollout: prior N(0, I) samples (the course's protocol) or zeros")
    group.add_argument("--make_gif", action="store_true",
                       help="also write pred_seq<v>.gif (and .mp4 if imageio-ffmpeg is installed)")
    group.add_argument("--no_sanity", action="store_true",
                       help="skip reading submission.csv back to check its format and values")
    return parser


def parse_test_args(argv=None):
    """Parse Tester.py's flags (``--preset`` values apply as defaults, as in Trainer.py)."""
    return parse_with_preset(build_test_parser(), argv)


# -- the model -----------------------------------------------------------------------------------
def load_inference_model(cfg):
    """Build the model of ``cfg.ckpt_path`` in eval mode on ``cfg.device``.

    The network flags (MODEL_KEYS) are taken from the checkpoint's stored config and written into
    ``cfg``; a template checkpoint keeps the flags' values. Returns (model, device, checkpoint dict).
    Raises UserInputError for a missing, unreadable or mismatched checkpoint.
    """
    if not cfg.ckpt_path:
        raise UserInputError("no checkpoint given: pass --ckpt_path <file.pt> (e.g. runs/<run>/checkpoints/best.pt)")
    ckpt = load_checkpoint(cfg.ckpt_path)
    stored = ckpt.get("config", {})
    for key in MODEL_KEYS:
        if key in stored:
            setattr(cfg, key, stored[key])
    model = VAE_Model(**model_kwargs(cfg))
    load_model_weights(model, ckpt["model"], cfg.ckpt_path)
    device = resolve_device(cfg.device)
    model.to(device).eval()
    if getattr(cfg, "channels_last", False):
        model.to(memory_format=torch.channels_last)
    return model, device, ckpt


def describe_model(cfg, ckpt):
    source = "course-template checkpoint, widths from the flags" if ckpt.get("template") else "from the checkpoint"
    flags = " ".join(f"{k}={getattr(cfg, k)}" for k in MODEL_KEYS)
    return f"model ({source}, epoch {ckpt.get('epoch', '?')}): {flags}"


def default_output_dir(ckpt_path):
    """The run folder of a checkpoint: ``runs/x`` for ``runs/x/checkpoints/best.pt``, else its folder."""
    folder = Path(ckpt_path).resolve().parent
    return folder.parent if folder.name == "checkpoints" else folder


def prepare_output_dir(save_root, ckpt_path):
    """Create ``save_root`` (default: the checkpoint's run folder) and check it is writable, before
    any long computation."""
    out = Path(save_root) if save_root else default_output_dir(ckpt_path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise UserInputError(f"cannot write to the output folder {out} ({err.strerror or err}): "
                             f"pass a writable --save_root") from err
    return out


@torch.inference_mode()
def generate(model, first_frames, poses, *, seed=0, z_mode="prior", amp="none"):
    """Roll out videos with the model's one rollout function, all of them as one batch.

    first_frames (B, 3, H, W), poses (B, T, 3, H, W) in [0, 1] on the model's device; latents drawn
    from a generator seeded with ``seed``. Returns (B, T, 3, H, W) float32 on the CPU; frame 0 is
    the given first frame.
    """
    model.eval()
    generator = torch.Generator(device=first_frames.device).manual_seed(seed)
    with autocast_context(first_frames.device, amp):
        videos = model.rollout(first_frames, poses, z_mode=z_mode, generator=generator)
    return videos.float().cpu()


# -- the test set ----------------------------------------------------------------------------------
def load_test_set(root, frame_H, frame_W, frames_per_video=FRAMES_PER_VIDEO):
    """The test videos of ``root``: (names, first_frames (V, 3, H, W), poses (V, T, 3, H, W)).

    Every video must have exactly ``frames_per_video`` pose labels (one per output frame, frame 0's
    included); the error names the video otherwise.
    """
    from dataloader import Dataset_Test
    test_set = Dataset_Test(root, frame_H=frame_H, frame_W=frame_W)
    firsts, poses = [], []
    for name, (first, labels) in zip(test_set.videos, test_set):
        if len(labels) != frames_per_video:
            raise UserInputError(
                f"test video {name} ({Path(root) / 'test' / 'test_label' / name}) has {len(labels)} pose labels, "
                f"expected {frames_per_video} (one per output frame; the course's videos have "
                f"{FRAMES_PER_VIDEO}); for a dataset of shorter videos pass --test_vi_len {len(labels)}")
        firsts.append(first[0])
        poses.append(labels)
    return list(test_set.videos), torch.stack(firsts), torch.stack(poses)


def load_ground_truth(root, frame_H, frame_W):
    """The test videos' true frames (V, T, 3, H, W) in [0, 1], or None when the dataset has none (the
    course's test set); only synthetic/imported datasets have ``test/test_img_gt``."""
    if not (Path(root) / "test" / "test_img_gt").is_dir():
        return None
    from dataloader import load_test_ground_truth
    return load_test_ground_truth(root, frame_H=frame_H, frame_W=frame_W)


def save_mp4(frames, path, fps=VIDEO_FPS, scale=GIF_SCALE):
    """Write (T, 3, H, W) frames as an MP4 if imageio's ffmpeg plugin is installed; returns whether it
    did (the plugin is an optional extra: ``pip install imageio-ffmpeg``)."""
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        return False
    import imageio.v2 as imageio
    images = [np.kron(to_uint8_hwc(f), np.ones((scale, scale, 1), dtype=np.uint8)) for f in frames]
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    imageio.mimwrite(tmp, images, fps=fps)
    os.replace(tmp, path)
    return True


# -- Tester.py ----------------------------------------------------------------------------------------
def make_submission(cfg):
    """What Tester.py does: roll out every test video of ``--DR`` with the ``--ckpt_path`` model and
    write ``submission.csv`` (+ GIFs/MP4s with ``--make_gif``, + local scores when the dataset has
    test ground truth) to ``--save_root``. Returns a summary dict (also written as test_summary.json).
    """
    started = time.perf_counter()
    model, device, ckpt = load_inference_model(cfg)
    print(describe_model(cfg, ckpt))
    out = prepare_output_dir(cfg.save_root, cfg.ckpt_path)
    root = dataset_root(cfg)
    names, first_frames, poses = load_test_set(root, cfg.frame_H, cfg.frame_W, cfg.test_vi_len)
    print(f"{len(names)} test videos ({', '.join(names)}) x {poses.shape[1]} frames from {root}")

    timer = time.perf_counter()
    videos = generate(model, first_frames.to(device), poses.to(device), seed=cfg.seed, z_mode=cfg.z_mode,
                      amp=cfg.amp)
    rollout_s = time.perf_counter() - timer
    print(f"rollout ({cfg.z_mode} z, seed {cfg.seed}) on {device}: {rollout_s:.1f}s")

    timer = time.perf_counter()
    csv_path = write_submission(videos, out / "submission.csv")
    csv_s = time.perf_counter() - timer
    summary = {"checkpoint": str(cfg.ckpt_path), "epoch": ckpt.get("epoch"), "dataset": str(root),
               "videos": names, "frames_per_video": int(poses.shape[1]), "z_mode": cfg.z_mode, "seed": cfg.seed,
               "device": str(device), "rollout_s": rollout_s, "csv_write_s": csv_s,
               "csv_bytes": csv_path.stat().st_size, "submission": str(csv_path)}
    print(f"wrote {csv_path} ({summary['csv_bytes'] / 1e6:.1f} MB, {len(names) * poses.shape[1]} rows) "
          f"in {csv_s:.1f}s")

    if not cfg.no_sanity:
        timer = time.perf_counter()
        check_submission_file(csv_path, videos)
        print(f"sanity check: {csv_path.name} reads back as the clamped prediction "
              f"({time.perf_counter() - timer:.1f}s)")

    result = local_score(root, videos, cfg.frame_H, cfg.frame_W)
    if result is not None:
        summary["scores"] = {k: result[k] for k in ("public", "private", "overall")}
        summary["scores"]["per_video"] = result["per_video"].tolist()
        print("local score against test/test_img_gt (the course's Kaggle formula):")
        print(format_scores(result))

    if cfg.make_gif:
        mp4 = 0
        for name, video in zip(names, videos):
            save_gif(video, out / f"pred_seq{name}.gif", fps=VIDEO_FPS, scale=GIF_SCALE)
            mp4 += save_mp4(video, out / f"pred_seq{name}.mp4")
        print(f"wrote pred_seq<v>.gif{' and .mp4' if mp4 else ''} for {len(names)} videos"
              + ("" if mp4 else " (MP4 needs the optional imageio-ffmpeg package)"))

    summary["total_s"] = time.perf_counter() - started
    _write_json(out / "test_summary.json", summary)
    print(f"done in {summary['total_s']:.1f}s; summary in {out / 'test_summary.json'}")
    return summary


def local_score(root, videos, frame_H, frame_W):
    """Score the prediction against the dataset's test ground truth when it has one (None otherwise).
    The submission is already written: a problem with the ground truth is reported, not raised."""
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
    return score(to_pixels(videos), to_pixels(truth))


def check_submission_file(path, videos):
    """Read a written submission back and check it equals the clamped, rounded prediction."""
    stored = read_submission(path, frames_per_video=videos.shape[1], frame_shape=tuple(videos.shape[2:]),
                             n_videos=videos.shape[0])
    if not np.array_equal(stored, to_pixels(videos)):
        raise RuntimeError(f"{path} does not read back as the prediction it was written from")


def _write_json(path, data):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
