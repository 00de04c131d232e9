"""The course's Kaggle submission: CSV writing, reading and the local scorer.

A submission (and the answer file it is scored against) is a CSV with the header ``id,0,...,P-1``
and one row per frame: row ``id = video * frames_per_video + frame``, pixel column
``k = c*H*W + h*W + w`` (channel, row, column), values ``rint(255 * x)`` clamped to 0..255. The
course's files have 5 videos x 630 frames and P = 3*32*64 = 6,144 pixels.

The scorer computes per row ``PSNR = 20*log10(255) - 10*log10(MSE over the P integers)``, keeps
frames 1..600 of every video, and averages the rows of videos 0-2 (public score) and of the other
videos (private score), as the course's Kaggle competition does.
"""
import math
import warnings
from pathlib import Path

import numpy as np
import torch

from ..config import FRAME_SHAPE
from ..config import VIDEO_LEN as FRAMES_PER_VIDEO
from ..errors import UserInputError, require_file
from ..io import atomic_path
from .metrics import MAX_8BIT as MAX_VALUE
from .metrics import psnr_8bit

SCORED_FRAMES = range(1, 601)
PUBLIC_VIDEOS = (0, 1, 2)


# -- writing -------------------------------------------------------------------------------------
def to_pixels(frames):
    """Frames (..., C, H, W) float in [0, 1] (tensor or array) -> uint8 array of rint(255 x) clamped
    to 0..255 (computed in float64, one temporary)."""
    if torch.is_tensor(frames):
        frames = frames.detach().float().cpu().numpy()
    values = np.array(frames, dtype=np.float64)
    values *= MAX_VALUE
    np.rint(values, out=values)
    np.clip(values, 0, MAX_VALUE, out=values)
    return values.astype(np.uint8)


def csv_header(n_pixels):
    return "id," + ",".join(map(str, range(n_pixels)))


def write_submission(videos, path):
    """Write videos (V, T, C, H, W) as a submission CSV at ``path``: floats in [0, 1] are converted
    with :func:`to_pixels`; an integer array is taken as 0..255 pixel values (an answer file).

    Rows are streamed to a temporary file in the same folder, renamed to ``path`` when complete, so
    an interrupted run never leaves half a file. Returns ``path`` as a Path.
    """
    if videos.ndim != 5:
        raise ValueError(f"videos must be (V, T, C, H, W), got shape {tuple(videos.shape)}")
    is_pixels = isinstance(videos, np.ndarray) and np.issubdtype(videos.dtype, np.integer)
    n_videos, n_frames = videos.shape[:2]
    n_pixels = math.prod(videos.shape[2:])
    path = Path(path)
    try:
        with atomic_path(path) as tmp, open(tmp, "w", newline="\n") as f:
            f.write(csv_header(n_pixels) + "\n")
            for v in range(n_videos):
                pixels = (videos[v].clip(0, MAX_VALUE) if is_pixels else to_pixels(videos[v]))
                for t, row in enumerate(pixels.reshape(n_frames, n_pixels)):
                    f.write(f"{v * n_frames + t}," + ",".join(map(str, row.tolist())) + "\n")
    except OSError as err:
        raise UserInputError(f"cannot write {path}: {err.strerror or err}") from err
    return path


# -- reading -------------------------------------------------------------------------------------
# The most bytes one field of a row may take: a 0..255 value and its comma take 4; twice that leaves
# room for "255.0", CRLF and a long id. A file far larger than its rows can be is refused unread.
MAX_FIELD_BYTES = 8


def read_table(path, n_pixels=math.prod(FRAME_SHAPE), n_rows=None):
    """Read a submission/answer CSV -> (ids int64 (R,), values float64 (R, n_pixels)).

    Checks the size against ``n_rows`` (when known), the header, that every row has ``n_pixels + 1``
    numeric fields and that every value is finite; errors name the file and the line.
    """
    path = require_file(path, "CSV")
    max_line = (n_pixels + 1) * MAX_FIELD_BYTES
    size = path.stat().st_size
    if n_rows is not None and size > (n_rows + 1) * max_line:
        raise UserInputError(f"{path} is {size:,} bytes, more than {n_rows} rows of {n_pixels} pixel values can "
                             f"take (at most {(n_rows + 1) * max_line:,}): not a CSV of these videos")
    expected = csv_header(n_pixels)
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        header = f.readline(max_line).rstrip("\r\n")  # bounded: a file may hold no newline at all
        if header == expected and len(f.readline(max_line + 1)) > max_line:
            raise UserInputError(f"{path}: line 2 is longer than a row of {n_pixels} pixel values can be "
                                 f"(over {max_line:,} bytes): not a submission/answer CSV")
    if header != expected:
        fields = header.split(",")
        wanted = expected.split(",")
        where = next((i for i, (a, b) in enumerate(zip(fields, wanted)) if a != b),
                     min(len(fields), len(wanted)))
        got = fields[where][:40] if where < len(fields) else "<end of line>"
        want = wanted[where] if where < len(wanted) else "<end of line>"
        raise UserInputError(f"{path}: bad header: expected 'id,0,1,...,{n_pixels - 1}' ({n_pixels + 1} "
                             f"columns), found {len(fields)} columns; column {where + 1} is {got!r} "
                             f"where {want!r} was expected")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "loadtxt: input contained no data")  # reported below
            table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise UserInputError(_first_bad_line(path, n_pixels) or f"{path}: {err}") from None
    if table.shape[0] == 0:
        raise UserInputError(f"{path} has a header but no rows")
    if table.shape[1] != n_pixels + 1:
        raise UserInputError(_first_bad_line(path, n_pixels) or f"{path}: {table.shape[1]} columns, "
                                                                 f"expected {n_pixels + 1}")
    if not np.isfinite(table).all():
        row = int(np.flatnonzero(~np.isfinite(table).all(axis=1))[0])
        raise UserInputError(f"{path}: line {row + 2} holds a value that is not a finite number")
    check_pixel_values(table[:, 1:], path)
    ids = table[:, 0]
    if not np.array_equal(ids, np.round(ids)):
        row = int(np.flatnonzero(ids != np.round(ids))[0])
        raise UserInputError(f"{path}: line {row + 2}: id {ids[row]!r} is not an integer")
    return ids.astype(np.int64), table[:, 1:]


def check_pixel_values(values, path):
    """Every pixel value must be an integer in 0..255, as Kaggle's scorer reads them: a value the
    scorer would take differently (12.5, -1, 256) is refused with its line and column."""
    bad = (values < 0) | (values > MAX_VALUE) | (values != np.rint(values))
    if bad.any():
        row, column = (int(i[0]) for i in np.nonzero(bad))
        raise UserInputError(f"{path}: line {row + 2}, column {column + 2}: value {values[row, column]:g} is not "
                             f"an integer pixel value in 0..{MAX_VALUE:g}")


def require_kaggle_frame_size(frame_H, frame_W):
    """The course's Kaggle takes 3x32x64 frames (6,144 columns) only: refuse to write another size as
    a submission (val_PSNR.py and training work at any size)."""
    if (FRAME_SHAPE[0], frame_H, frame_W) != FRAME_SHAPE:
        raise UserInputError(f"--frame_H {frame_H} --frame_W {frame_W}: the Kaggle submission format is fixed at "
                             f"{FRAME_SHAPE[1]}x{FRAME_SHAPE[2]} frames ({math.prod(FRAME_SHAPE)} pixel columns); "
                             f"a model trained at another size cannot make a valid submission")


def _first_bad_line(path, n_pixels):
    """Describe the first line without n_pixels + 1 numeric fields (slow path, only on errors)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        next(f)
        for number, line in enumerate(f, start=2):
            fields = line.rstrip("\r\n").split(",")
            if fields == [""]:
                continue
            if len(fields) != n_pixels + 1:
                return (f"{path}: line {number} has {len(fields)} fields, expected {n_pixels + 1} "
                        f"(id + {n_pixels} pixels)")
            for column, field in enumerate(fields):
                try:
                    float(field)
                except ValueError:
                    return f"{path}: line {number}, column {column + 1}: {field!r} is not a number"
    return None


def check_ids(ids, n_rows, path):
    """Rows must be exactly ids 0..n_rows-1 in order."""
    if len(ids) != n_rows:
        raise UserInputError(f"{path}: {len(ids)} rows, expected {n_rows}")
    bad = np.flatnonzero(ids != np.arange(n_rows))
    if bad.size:
        row = int(bad[0])
        raise UserInputError(f"{path}: line {row + 2} has id {ids[row]}, expected {row} "
                             f"(ids must be 0..{n_rows - 1} in order: video * frames_per_video + frame)")


def read_submission(path, frames_per_video=FRAMES_PER_VIDEO, frame_shape=FRAME_SHAPE, n_videos=None):
    """Read a submission/answer CSV -> float64 array (V, T, C, H, W) of its values (0..255 scale).

    ``n_videos`` (default: rows / frames_per_video, which must divide evenly) fixes the row count.
    """
    ids, values = read_table(path, math.prod(frame_shape), None if n_videos is None else n_videos * frames_per_video)
    if n_videos is None:
        if len(ids) % frames_per_video:
            raise UserInputError(f"{path}: {len(ids)} rows is not a whole number of videos of "
                                 f"{frames_per_video} frames")
        n_videos = len(ids) // frames_per_video
    check_ids(ids, n_videos * frames_per_video, path)
    return values.reshape(n_videos, frames_per_video, *frame_shape)


# -- scoring -------------------------------------------------------------------------------------
def scored_frames(n_frames, frames=SCORED_FRAMES):
    """The frame indices the scorer keeps, limited to a video of ``n_frames`` frames."""
    return [t for t in frames if t < n_frames]


def score(pred, answer, frames=SCORED_FRAMES, public_videos=PUBLIC_VIDEOS):
    """Score (V, T, C, H, W) arrays on the 0..255 scale the way the course's Kaggle does.

    Returns {"public", "private" (None without such videos), "overall", "per_video" (V,), "per_frame"
    (V, F) PSNR of every scored row, "frames" (the scored frame indices)}.
    """
    if pred.shape != answer.shape:
        raise UserInputError(f"the submission has shape {pred.shape}, the answer {answer.shape}")
    kept = scored_frames(pred.shape[1], frames)
    if not kept:
        raise UserInputError(f"videos of {pred.shape[1]} frames have no scored frames")
    per_frame = np.stack([psnr_8bit(p[kept], a[kept]) for p, a in zip(pred, answer)])  # per video: less memory
    public = [v for v in range(pred.shape[0]) if v in public_videos]
    private = [v for v in range(pred.shape[0]) if v not in public_videos]
    return {"public": float(per_frame[public].mean()) if public else None,
            "private": float(per_frame[private].mean()) if private else None,
            "overall": float(per_frame.mean()), "per_video": per_frame.mean(axis=1), "per_frame": per_frame,
            "frames": kept}


def score_files(submission_path, answer_path, frames_per_video=FRAMES_PER_VIDEO, frame_shape=FRAME_SHAPE):
    """Score a submission CSV against an answer CSV (both checked for format); see :func:`score`."""
    answer = read_submission(answer_path, frames_per_video, frame_shape)
    pred = read_submission(submission_path, frames_per_video, frame_shape, n_videos=answer.shape[0])
    return score(pred, answer)


def format_scores(result):
    """The scores as a few printable lines."""
    n_videos = len(result["per_video"])
    public = [v for v in range(n_videos) if v in PUBLIC_VIDEOS]
    private = [v for v in range(n_videos) if v not in PUBLIC_VIDEOS]
    lines = []
    for name, videos in (("public ", public), ("private", private)):
        if videos:
            lines.append(f"{name} (videos {','.join(map(str, videos))}): {result[name.strip()]:.3f} dB")
    frames = result["frames"]
    lines.append(f"all videos: {result['overall']:.3f} dB over frames {frames[0]}..{frames[-1]}; per video: "
                 + ", ".join(f"{p:.2f}" for p in result["per_video"]))
    return "\n".join(lines)
