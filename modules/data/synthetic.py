"""The synthetic dance dataset: videos of :mod:`.dance_video` written in the LAB4 folder layout.

Layout written by :func:`generate_dataset` (``N`` counts frames from 0, sorted numerically)::

    root/train/train_img/frame<N>.png   root/train/train_label/frame<N>.png   (videos back to back)
    root/val/val_img/frame<N>.png       root/val/val_label/frame<N>.png       (one video)
    root/test/test_img/<v>/frame0.png   root/test/test_label/<v>/frame<N>.png (first frame + all labels)
    root/test/test_img_gt/<v>/frame<N>.png   (extra: the test videos' ground truth, for scoring)
    root/.lab4_synthetic.json                (written last: the generation parameters)

Frames are RGB PNGs of ``frame_size`` = (H, W) pixels; the default (64, 128) keeps generation fast and
downsamples cleanly to the model's 32x64 (the real dataset's frames are 512x1024). ``dancers`` = "one"
(default: one dancer in one studio, like the course) or "per_video" (a new dancer in every video).
"""

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from tqdm import tqdm

from ..config import SYNTHETIC_DEFAULTS
from ..console import note
from ..errors import UserInputError
from ..io import write_json
from .dance_video import DANCER_MODES, VideoSpec, render_frames, sample_video
from .partial import partial_folder

FORMAT_VERSION = 2  # 2: one dancer per dataset by default, walks across the width, crouches, turns
MARKER_NAME = ".lab4_synthetic.json"
PNG_COMPRESS_LEVEL = 1
FRAMES_PER_JOB = 48
PARALLEL_MIN_FRAMES = 500  # smaller datasets render in-process: starting workers would cost more


@dataclass(frozen=True)
class _Job:
    """Frames [t0, t1) of one video: person frames to ``img_dir`` (or only frame 0), labels to
    ``label_dir``, file numbers shifted by ``name_offset``."""

    spec: VideoSpec
    t0: int
    t1: int
    name_offset: int
    img_dirs: tuple  # folders that receive every person frame
    label_dir: str
    first_frame_dir: str  # folder that receives frame 0 only ("" for none)


def _run_job(job):
    for t, (person, label) in zip(range(job.t0, job.t1), render_frames(job.spec, range(job.t0, job.t1))):
        name = f"frame{t + job.name_offset}.png"
        for folder in job.img_dirs:
            person.save(Path(folder) / name, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        if job.first_frame_dir and t == 0:
            person.save(Path(job.first_frame_dir) / name, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        label.save(Path(job.label_dir) / name, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return job.t1 - job.t0


def _video_jobs(spec, name_offset, img_dirs, label_dir, first_frame_dir=""):
    return [_Job(spec, t0, min(t0 + FRAMES_PER_JOB, spec.n_frames), name_offset,
                 tuple(str(d) for d in img_dirs), str(label_dir), str(first_frame_dir))
            for t0 in range(0, spec.n_frames, FRAMES_PER_JOB)]


def _all_jobs(root, params):
    size = params["frame_size"]
    jobs = []
    train_img, train_label = root / "train" / "train_img", root / "train" / "train_label"
    for i in range(params["n_train_videos"]):
        spec = sample_video(params["seed"], "train", i, params["train_video_len"], size, params["dancers"])
        jobs += _video_jobs(spec, i * params["train_video_len"], [train_img], train_label)
    spec = sample_video(params["seed"], "val", 0, params["val_len"], size, params["dancers"])
    jobs += _video_jobs(spec, 0, [root / "val" / "val_img"], root / "val" / "val_label")
    for v in range(params["n_test"]):
        spec = sample_video(params["seed"], "test", v, params["test_len"], size, params["dancers"])
        jobs += _video_jobs(spec, 0, [root / "test" / "test_img_gt" / str(v)],
                            root / "test" / "test_label" / str(v), root / "test" / "test_img" / str(v))
    return jobs


def _default_workers():
    return max(1, min(2, os.cpu_count() or 1))


def generation_params(**overrides):
    """The parameters that determine a dataset (SYNTHETIC_DEFAULTS, with ``overrides``), checked and
    normalised, as stored in its marker file."""
    unknown = set(overrides) - set(SYNTHETIC_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown synthetic dataset parameters: {sorted(unknown)}")
    given = {**SYNTHETIC_DEFAULTS, **overrides}
    if given["dancers"] not in DANCER_MODES:
        raise UserInputError(f"dancers must be one of {', '.join(DANCER_MODES)}, got {given['dancers']!r}")
    params = {"format_version": FORMAT_VERSION,
              **{k: int(v) for k, v in given.items() if k not in ("frame_size", "dancers")},
              "frame_size": [int(given["frame_size"][0]), int(given["frame_size"][1])], "dancers": given["dancers"]}
    if min(params["frame_size"]) < 8:
        raise UserInputError(f"frame size {given['frame_size']} is too small (at least 8x8 pixels)")
    for key in ("n_train_videos", "train_video_len", "val_len", "n_test", "test_len"):
        if params[key] < 1:
            raise UserInputError(f"{key} must be at least 1, got {params[key]}")
    return params


def generate_dataset(root, *, progress=True, workers=None, **params):
    """Write a synthetic dataset in the LAB4 layout to ``root`` and return ``root`` as a Path.

    ``params`` are those of :func:`generation_params` (seed, frame_size=(H, W), n_train_videos,
    train_video_len, val_len, n_test, test_len, dancers). The same parameters give byte-identical files. Frames
    and, last, the marker file are written to the sibling folder ``<root>.partial``, which is renamed to
    ``root`` when complete: an interrupted run leaves no half dataset at ``root``. ``root`` must not
    exist, be empty, or be a synthetic dataset written before (it is replaced). ``workers`` processes
    render in parallel (default: up to 2, or 1 for datasets under 500 frames).
    """
    root = Path(root)
    params = generation_params(**params)
    _check_replaceable(root)
    tmp = partial_folder(root)
    jobs = _all_jobs(tmp, params)
    for job in jobs:
        for folder in (*job.img_dirs, job.label_dir, job.first_frame_dir):
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)
    total = sum(job.t1 - job.t0 for job in jobs)
    workers = workers or (_default_workers() if total >= PARALLEL_MIN_FRAMES else 1)
    if progress:
        note(f"generating the synthetic dataset: {total} frames into {root} (once, {workers} processes)")
    with tqdm(total=total, desc=f"generating {root}", unit="frame", disable=None if progress else True) as bar:
        if workers == 1:
            for job in jobs:
                bar.update(_run_job(job))
        else:
            method = "fork" if "fork" in get_all_start_methods() else None
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context(method)) as pool:
                for done in as_completed([pool.submit(_run_job, job) for job in jobs]):
                    bar.update(done.result())
    write_json(tmp / MARKER_NAME, params)
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    return root


def _check_replaceable(root):
    if root.exists() and not root.is_dir():
        raise UserInputError(f"{root} is a file, not a folder: pass a folder for the dataset (--out)")
    if root.exists() and any(root.iterdir()) and not (root / MARKER_NAME).is_file():
        raise UserInputError(f"{root} exists and is not a synthetic dataset written by this repo "
                             f"(no {MARKER_NAME}); choose another folder or remove it")


def read_marker(root):
    """The generation parameters stored in ``root``'s marker file, or None if there is none."""
    marker = Path(root) / MARKER_NAME
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def default_dataset_root():
    """``data/synthetic`` under the repository root: where the default dataset lives."""
    return Path(__file__).resolve().parents[2] / "data" / "synthetic"


def ensure_synthetic_dataset(root=None, *, progress=True, workers=None, **params):
    """Return the synthetic dataset at ``root`` (default :func:`default_dataset_root`), generating it
    first if it is missing, incomplete or was made with other parameters."""
    root = Path(root) if root is not None else default_dataset_root()
    stored, wanted = read_marker(root), generation_params(**params)
    if stored != wanted:
        if progress and isinstance(stored, dict):
            changed = sorted(k for k in {*stored, *wanted} if stored.get(k) != wanted.get(k))
            note(f"{root} was generated with other parameters ({', '.join(changed)}): generating it again")
        generate_dataset(root, progress=progress, workers=workers, **params)
    return root
