"""Every quality metric of a prediction against its ground truth, from files: what score.py prints.

A video file is a submission/answer CSV (V videos) or a GIF (one video), decoded as ``make_dataset.py
import`` does: a frame lasting k x 20 ms stands for k frames, and a GIF of VIDEO_LEN + 1 frames (the
course template's ``make_gif`` saves the first frame twice) loses one copy of its first frame.

Scored frames: the Kaggle's, 1..600 (frame 0 is given). The background of the vacated-region PSNR and the
silhouette IoU is the temporal median of the whole true video (all its frames, not only the scored ones).
With ``dedither`` every metric but the Kaggle PSNR is computed on 3x3 box-blurred prediction and truth.
"""
from pathlib import Path

import numpy as np
import torch

from ..config import FRAME_SHAPE, VIDEO_LEN
from ..errors import UserInputError
from .metrics import (box_blur, moving_psnr, psnr_per_frame, silhouette_iou, temporal_median,
                      vacated_psnr)
from .submission import SCORED_FRAMES, read_submission, score, scored_frames

METRICS = ("psnr", "moving_psnr", "vacated_psnr", "silhouette_iou")


def read_gif(path, frames_per_video=VIDEO_LEN):
    """A GIF -> uint8 array (1, T, 3, H, W), decoded by :func:`modules.data.video_import.iter_frames`;
    a template GIF of ``frames_per_video + 1`` frames loses its doubled first frame."""
    from ..data.video_import import count_frames, iter_frames
    doubled = count_frames(path) == frames_per_video + 1
    frames = [np.asarray(frame) for frame in iter_frames(path, template_gif=doubled)]
    return np.stack(frames).transpose(0, 3, 1, 2)[None]


def read_video_file(path, frames_per_video=VIDEO_LEN, frame_shape=FRAME_SHAPE, n_videos=None):
    """A GIF or a submission/answer CSV -> its 0..255 pixel values (V, T, 3, H, W)."""
    if Path(path).suffix.lower() == ".gif":
        return read_gif(path, frames_per_video)
    return read_submission(path, frames_per_video, frame_shape, n_videos=n_videos)


def quality_scores(pred, truth, *, frames=SCORED_FRAMES, dedither=False):
    """Per-video metrics of (V, T, 3, H, W) float videos in [0, 1] over the frames ``frames`` of
    1..T-1: {name: (V,) array} for ``psnr`` (mean per-frame PSNR), ``moving_psnr``, ``vacated_psnr``
    and ``silhouette_iou`` (modules.eval.metrics), the background taken over all T true frames."""
    if dedither:
        pred, truth = box_blur(pred), box_blur(truth)
    background = temporal_median(truth)
    kept = [0] + scored_frames(truth.shape[1], frames)
    pred, truth = pred[:, kept], truth[:, kept]
    return {"psnr": psnr_per_frame(pred[:, 1:], truth[:, 1:]).mean(dim=1).numpy(),
            "moving_psnr": moving_psnr(pred, truth).numpy(),
            "vacated_psnr": vacated_psnr(pred, truth, background).numpy(),
            "silhouette_iou": silhouette_iou(pred, truth, background).numpy()}


def score_videos_against(pred, answer, *, dedither=False):
    """The Kaggle score (:func:`modules.eval.submission.score`, raw 8-bit) and :func:`quality_scores` of
    the prediction and of copying frame 0, for (V, T, 3, H, W) arrays of 0..255 values."""
    if pred.shape != answer.shape:
        raise UserInputError(f"the prediction has shape {pred.shape}, the ground truth {answer.shape}")
    kaggle = score(pred, answer)
    pred_f, truth_f = (torch.from_numpy(np.asarray(x, dtype=np.float32) / 255) for x in (pred, answer))
    copy_f = truth_f[:, :1].expand_as(truth_f)
    return {"kaggle": kaggle, "dedither": dedither,
            "copy_kaggle": score(np.broadcast_to(answer[:, :1], answer.shape), answer),
            "prediction": quality_scores(pred_f, truth_f, frames=kaggle["frames"], dedither=dedither),
            "copy": quality_scores(copy_f, truth_f, frames=kaggle["frames"], dedither=dedither)}


def format_quality(result):
    """The table of :func:`score_videos_against`: one row per video and for copying frame 0."""
    frames = result["kaggle"]["frames"]
    mode = ", de-dithered (3x3 box blur)" if result["dedither"] else ""
    lines = [f"frames {frames[0]}..{frames[-1]}; Kaggle-style PSNR raw 8-bit, the others on float frames{mode}:",
             f"{'video':<15} {'Kaggle PSNR':>11} {'PSNR':>7} {'moving':>7} {'vacated':>7} {'IoU':>6}"]
    for v in range(len(result["kaggle"]["per_video"])):
        for who, quality, kaggle in (("prediction", result["prediction"], result["kaggle"]),
                                     ("copy frame 0", result["copy"], result["copy_kaggle"])):
            q = [quality[name][v] for name in METRICS]
            lines.append(f"{v}: {who:<12} {kaggle['per_video'][v]:11.2f} {q[0]:7.2f} {q[1]:7.2f} {q[2]:7.2f} "
                         f"{q[3]:6.3f}")
    return "\n".join(lines)


def quality_json(result):
    """:func:`score_videos_against`'s numbers as plain lists (per video) for a JSON file."""
    def per_video(quality, kaggle):
        return {"kaggle_psnr": kaggle["per_video"].tolist(), **{k: quality[k].tolist() for k in METRICS}}
    return {"dedither": result["dedither"], "frames": [result["kaggle"]["frames"][0], result["kaggle"]["frames"][-1]],
            "prediction": per_video(result["prediction"], result["kaggle"]),
            "copy": per_video(result["copy"], result["copy_kaggle"])}
