"""LAB4 datasets: scan and validate a dataset folder once, decode each frame once, serve clips.

Layout (the real course dataset and the embedded synthetic one)::

    DR/train/train_img/frame<N>.png   DR/train/train_label/frame<N>.png
    DR/val/val_img/frame<N>.png       DR/val/val_label/frame<N>.png
    DR/test/test_img/<v>/<N>.png      DR/test/test_label/<v>/<N>.png   (first frame; all labels)
    DR/test/test_img_gt/<v>/<N>.png   (synthetic and imported datasets only: the test ground truth)

Frames sort by the integer in their name (``frame12.png`` before ``frame100.png``). Every frame is
decoded and resized once with PIL's bilinear filter (exactly the template's ``Resize`` + ``ToTensor``),
kept in memory as uint8 (N, 3, H, W) and cached on disk, so later runs start in seconds. Items are float32
in [0, 1]; a batch from a DataLoader is (B, T, 3, H, W).
"""

import hashlib
import json
import math
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from modules.config import FRAME_H, FRAME_W
from modules.data.augment import augment_clip, check_augments
from modules.console import note
from modules.errors import UserInputError
from modules.io import save_torch

CACHE_VERSION = 3  # 2: the key holds a sample of every file's content; 3: 16-bit greyscale scaled, not clipped
CONTENT_SAMPLE = 1024  # bytes hashed at each end of a source file
CACHE_DIR_NAME = ".lab4_cache"
USER_CACHE_DIR = Path.home() / ".cache" / "lab4_cvae"
FRAME_NAME = re.compile(r"(?:frame)?(\d+)\.png", re.IGNORECASE)
IGNORED_NAMES = {"thumbs.db", "desktop.ini"}  # files the OS drops into image folders
MAX_NAMES_SHOWN = 5
MODES = ("train", "val")
CUT_FACTOR = 5.0  # a change this many times the median change between frames starts a new video


# -- scanning and validation ---------------------------------------------------------------------
def check_root(root):
    """The dataset root as a Path; a clear error if it was not given or is not a folder."""
    if root is None or str(root) == "":
        raise UserInputError("no dataset root given: pass --DR <folder in the LAB4 layout>")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserInputError(f"dataset root {root} does not exist or is not a folder")
    return root


def _require_dir(folder, what):
    if not folder.is_dir():
        raise UserInputError(f"missing folder {folder} ({what}); expected the LAB4 layout, "
                             "see docs/data.md")
    return folder


def _shown(names):
    names = sorted(names, key=frame_number)
    more = f" and {len(names) - MAX_NAMES_SHOWN} more" if len(names) > MAX_NAMES_SHOWN else ""
    return ", ".join(names[:MAX_NAMES_SHOWN]) + more


def _is_ignored(path):
    return path.name.startswith(".") or path.name.lower() in IGNORED_NAMES


def frame_number(path):
    """The integer that orders a frame file: ``frame12.png`` -> 12 (``12.png`` too)."""
    match = FRAME_NAME.fullmatch(Path(path).name)
    if match is None:
        raise UserInputError(f"{path}: not a frame file name: expected frame<N>.png with an integer N")
    return int(match.group(1))


def scan_frames(folder):
    """The frame files of ``folder`` sorted by frame number (list of Path); errors name bad entries."""
    folder = Path(folder)
    _require_dir(folder, "frames")
    frames = []
    for path in folder.iterdir():
        if _is_ignored(path):
            continue
        if path.is_dir():
            raise UserInputError(f"{path}: unexpected sub-folder in a frame folder")
        if path.suffix.lower() != ".png":
            raise UserInputError(f"{path}: not a PNG frame (frames must be frame<N>.png files)")
        if not path.is_file():
            raise UserInputError(f"{path}: " + ("a broken or looping symbolic link" if path.is_symlink() else
                                                "not a regular file (a FIFO, socket or device)")
                                 + ", not a frame file")
        frames.append((frame_number(path), path))
    if not frames:
        raise UserInputError(f"{folder} contains no frames (expected frame<N>.png files)")
    frames.sort()
    for (a, pa), (b, pb) in zip(frames, frames[1:]):
        if a == b:
            raise UserInputError(f"{pa} and {pb} have the same frame number {a}")
    return [path for _, path in frames]


def check_consecutive(paths):
    """Frames of one video must be numbered without gaps: a missing frame7.png would pair every later
    pose with the wrong output frame."""
    for a, b in zip(paths, paths[1:]):
        if frame_number(b) != frame_number(a) + 1:
            raise UserInputError(f"{a.parent}: a gap in the frame numbering, {a.name} is followed by {b.name}; "
                                 "every frame of a video must be there")
    return paths


def paired_frames(img_dir, label_dir):
    """Sorted (images, labels) path lists of two folders whose file names must match one to one."""
    images, labels = scan_frames(img_dir), scan_frames(label_dir)
    image_names, label_names = {p.name for p in images}, {p.name for p in labels}
    if image_names != label_names:
        problems = []
        if image_names - label_names:
            problems.append(f"images without a label in {label_dir}: {_shown(image_names - label_names)}")
        if label_names - image_names:
            problems.append(f"labels without an image in {img_dir}: {_shown(label_names - image_names)}")
        raise UserInputError("; ".join(problems))
    return images, labels


# -- decoding and the frame cache ----------------------------------------------------------------
def open_png(path):
    """Decode one PNG file as an RGB PIL image; a corrupt, truncated or non-PNG file is a UserInputError."""
    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                raise UserInputError(f"{path}: not a PNG file (its content is {im.format})")
            return _to_rgb(im)
    except UserInputError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise UserInputError(f"{path}: cannot decode the image, the file is corrupt, truncated or not a "
                             f"PNG ({err})") from None


SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I")  # PIL's modes of a 16-bit greyscale PNG


def _to_rgb(im):
    """RGB of a decoded PNG. 16-bit greyscale is scaled to 8 bits (0..65535 -> 0..255): PIL's
    ``convert("RGB")`` clips it instead, so every pixel above 255 (nearly all) became white."""
    if im.mode in SIXTEEN_BIT_GREY:
        grey = np.rint(np.asarray(im, dtype=np.float64) / 257.0).clip(0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return im.convert("RGB")


def decode_frame(path, frame_h, frame_w):
    """One PNG -> uint8 array (3, frame_h, frame_w): RGB, bilinear resize (the template's transform)."""
    rgb = open_png(path).resize((frame_w, frame_h), Image.BILINEAR)
    return np.asarray(rgb).transpose(2, 0, 1)


def _decode_workers():
    return max(1, min(8, os.cpu_count() or 1))


def decode_frames(paths, frame_h, frame_w, desc="decoding"):
    """Decode ``paths`` in parallel threads (PIL releases the GIL) -> uint8 tensor (N, 3, H, W)."""
    out = np.empty((len(paths), 3, frame_h, frame_w), dtype=np.uint8)
    note(f"{desc}: {len(paths)} frames to {frame_h}x{frame_w} (once; later runs read the cache)")

    def work(i):
        out[i] = decode_frame(paths[i], frame_h, frame_w)

    pool = ThreadPoolExecutor(max_workers=_decode_workers())
    try:
        for _ in tqdm(pool.map(work, range(len(paths))), total=len(paths), desc=desc, unit="frame",
                      disable=None, leave=False):
            pass
    finally:  # on a bad file, report it now rather than after decoding everything else
        pool.shutdown(wait=True, cancel_futures=True)
    return torch.from_numpy(out)


def _sample_digest(path, size):
    """A cheap content fingerprint: the hash of a file's first and last KB. Size and mtime alone miss
    same-size files swapped with their mtimes restored (PNGs of one dataset often share a size)."""
    with open(path, "rb") as f:
        head = f.read(CONTENT_SAMPLE)
        f.seek(max(0, size - CONTENT_SAMPLE))
        tail = f.read(CONTENT_SAMPLE)
    return hashlib.blake2b(head + tail, digest_size=8).hexdigest()


def cache_key(root, paths, frame_h, frame_w):
    """Hash of the cache format, frame size and every source file's (relative name, size, mtime,
    first/last KB)."""
    entries = []
    try:
        for path in paths:
            stat = path.stat()
            entries.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns,
                            _sample_digest(path, stat.st_size)))
    except OSError as err:
        raise UserInputError(f"cannot read {err.filename or path}: {err.strerror or err}") from None
    text = json.dumps([CACHE_VERSION, frame_h, frame_w, entries])
    return hashlib.sha256(text.encode()).hexdigest()


def cache_locations(root, name, frame_h, frame_w):
    """Where the cache of ``name`` may live: inside the dataset root, else in the user's cache folder
    (for a read-only dataset), keyed by the root's absolute path."""
    file_name = f"{name}_{frame_h}x{frame_w}.pt"
    root_id = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return [Path(root) / CACHE_DIR_NAME / file_name, USER_CACHE_DIR / root_id / file_name]


def _read_cache(path, key):
    try:
        if not path.is_file():
            return None
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged or unreadable cache (folder) is rebuilt, never trusted
        warnings.warn(f"ignoring unreadable frame cache {path}: {err}")
        return None
    if not isinstance(stored, dict) or stored.get("key") != key:
        return None
    return stored.get("frames")


def _write_cache(locations, key, frames):
    for path in locations:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return save_torch({"key": key, "frames": frames}, path)
        except OSError:
            pass
    warnings.warn(f"could not write a frame cache to any of {[str(p) for p in locations]}; "
                  "frames will be decoded again next time")
    return None


def load_frames(root, name, paths, frame_h, frame_w, cache=True):
    """Frames ``paths`` (under ``root``) decoded and resized: uint8 tensor (N, 3, frame_h, frame_w).

    With ``cache``, reuse ``<root>/.lab4_cache/<name>_<H>x<W>.pt`` (or its copy in the user cache
    folder) when its key matches; otherwise decode and write it atomically.
    """
    if not cache:
        return decode_frames(paths, frame_h, frame_w, desc=f"decoding {name}")
    key = cache_key(root, paths, frame_h, frame_w)
    locations = cache_locations(root, name, frame_h, frame_w)
    for path in locations:
        frames = _read_cache(path, key)
        if frames is not None:
            return frames
    frames = decode_frames(paths, frame_h, frame_w, desc=f"decoding {name}")
    _write_cache(locations, key, frames)
    return frames


def video_starts(frames, factor=CUT_FACTOR):
    """First frame of each video in back-to-back uint8 ``frames`` (N, 3, H, W): frame 0 and every
    frame whose mean absolute change from the previous one exceeds ``factor`` times the median
    change (a new scene or dancer). Videos of one dancer in one room (the course's) stay one piece,
    which for picking an anchor frame is harmless."""
    if len(frames) < 3:
        return [0]
    change = (frames[1:].float() - frames[:-1].float()).abs().mean(dim=(1, 2, 3))
    cuts = torch.nonzero(change > factor * change.median().clamp_min(1.0)).flatten() + 1
    return [0, *cuts.tolist()]


def to_float(frames):
    """uint8 frames (..., 3, H, W) -> float32 in [0, 1]."""
    return frames.float().div_(255.0)


# -- datasets ------------------------------------------------------------------------------------
class Dataset_Dance(torch.utils.data.Dataset):
    """Clips of ``video_len`` consecutive frames of ``root/<mode>/<mode>_img`` and their labels.

    As in the course template the frames form one numerically sorted list (video boundaries inside
    ``train`` are ignored), ``partial`` keeps its first ``int(N * partial)`` frames and clip ``i`` is
    frames ``[i*T, (i+1)*T)``: ``len = int(N * partial) // T``. Validation is the same with
    ``video_len=630``: one clip. With ``max_anchor_gap`` G > 0 the clip's frame 0 (the anchor that the model copies and redraws from)
    is replaced by a frame up to G frames earlier in the same video (:func:`video_starts`), drawn
    per clip and epoch: training then sees the far anchors of a 630-frame rollout. ``augment`` (some of
    ``offset``, ``shift``, ``nearer``: modules/data/augment.py) moves the clip grid by a random offset per
    epoch, shifts clips and brings their dancer nearer, deterministically in (seed, epoch, clip).

    Items: ``(img, label)``, each float32 (T, 3, frame_H, frame_W) in [0, 1].
    """

    def __init__(self, root, mode="train", video_len=16, partial=1.0, frame_H=FRAME_H, frame_W=FRAME_W,
                 cache=True, seed=0, max_anchor_gap=0, augment=()):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        root = check_root(root)
        split = _require_dir(root / mode, f"the {mode} split")
        images, labels = paired_frames(split / f"{mode}_img", split / f"{mode}_label")
        frames = load_frames(root, mode, images + labels, frame_H, frame_W, cache=cache)
        self.images, self.labels = frames[:len(images)], frames[len(images):]
        self.video_len, self.seed, self.epoch = video_len, seed, 0
        self.n_frames = int(len(images) * partial)
        # No anchor lies further back than the frames there are (a huge gap would overflow the draw).
        self.max_anchor_gap = min(max_anchor_gap, self.n_frames)
        self.augment = check_augments(augment)
        needs_videos = max_anchor_gap or "nearer" in self.augment
        self.video_starts = video_starts(self.images[:self.n_frames]) if needs_videos else [0]
        if "nearer" in self.augment:
            self.studios = [empty_studio(self.images[a:b]) for a, b in
                            zip(self.video_starts, [*self.video_starts[1:], self.n_frames])]
        if len(self) == 0:
            kept = f" (--partial {partial} keeps {self.n_frames})" if partial < 1 else ""
            raise UserInputError(f"{split / f'{mode}_img'} has {len(images)} frames{kept}: fewer than one clip "
                                 f"of {video_len} frames (--{mode}_vi_len)")

    def set_epoch(self, epoch):
        """Draw this epoch's anchors anew; deterministic in (seed, epoch)."""
        self.epoch = epoch

    def __len__(self):
        # With a random grid offset (< T) one clip fewer fits, whatever the epoch draws.
        return (self.n_frames - ("offset" in self.augment) * (self.video_len - 1)) // self.video_len

    def _rng(self, index, stream):
        return np.random.default_rng([self.seed, self.epoch, index, stream])

    def grid_offset(self):
        """Where this epoch's clip grid starts: 0, or with ``offset`` a frame drawn in [0, T)."""
        return int(self._rng(0, 3).integers(self.video_len)) if "offset" in self.augment else 0

    def _video_of(self, frame):
        """Index in ``video_starts`` of the video that holds ``frame``."""
        return max(i for i, v in enumerate(self.video_starts) if v <= frame)

    def anchor(self, index, start):
        """The frame that stands in for clip ``index``'s frame 0 (``start`` without an anchor gap)."""
        if not self.max_anchor_gap:
            return start
        video_start = self.video_starts[self._video_of(start)]
        gap = int(self._rng(index, 1).integers(self.max_anchor_gap + 1))
        return max(video_start, start - gap)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"clip {index} out of range [0, {len(self)})")
        start = self.grid_offset() + index * self.video_len
        clip = [self.anchor(index, start), *range(start + 1, start + self.video_len)]
        frames, labels = to_float(self.images[clip]), to_float(self.labels[clip])
        if self.augment:
            studio = self.studios[self._video_of(start)] if "nearer" in self.augment else None
            frames, labels = augment_clip(frames, labels, self._rng(index, 2), self.augment, studio)
        return frames, labels


QUANTILE_LIMIT = 2 ** 24  # the most values torch.quantile takes


def empty_studio(frames):
    """The studio without its dancer, (3, H, W) float in [0, 1], from a video's uint8 frames (N, 3, H, W):
    the per-pixel 75th percentile (the dancer is darker than the studio; a median keeps him where he
    stood for long), of every frame, or of evenly spaced ones where they hold over QUANTILE_LIMIT values."""
    step = max(1, math.ceil(frames.numel() / QUANTILE_LIMIT))
    return torch.quantile(to_float(frames[::step]), 0.75, dim=0)


def scan_test_videos(root):
    """Video folder names under ``root/test/test_img`` (numeric names, sorted numerically), checked
    against ``root/test/test_label``."""
    test = _require_dir(root / "test", "the test split")
    img_dir = _require_dir(test / "test_img", "first frames of the test videos")
    label_dir = _require_dir(test / "test_label", "pose labels of the test videos")
    names = _video_folders(img_dir)
    if not names:
        raise UserInputError(f"{img_dir} contains no test video folders (expected <v>/ sub-folders)")
    label_names = _video_folders(label_dir)
    missing = [v for v in names if v not in label_names]
    if missing:
        raise UserInputError(f"test videos without labels: no folder {label_dir / missing[0]}"
                             + (f" (also {', '.join(missing[1:])})" if len(missing) > 1 else ""))
    extra = [v for v in label_names if v not in names]
    if extra:
        raise UserInputError(f"label folders without a test video in {img_dir}: {', '.join(extra)}")
    return names


def _video_folders(folder):
    names = []
    for path in folder.iterdir():
        if _is_ignored(path):
            continue
        if not path.is_dir() or not path.name.isdigit():
            raise UserInputError(f"{path}: expected only numbered video folders (0, 1, ...) in {folder}")
        names.append(path.name)
    return sorted(names, key=int)


class Dataset_Test:
    """The test videos: per video folder ``v`` (sorted numerically) its first frame and all its labels.

    Items: ``(first_frame, labels)``: float32 (1, 3, frame_H, frame_W) and (L, 3, frame_H, frame_W) in
    [0, 1]. The first frame is the numerically first file of ``test_img/<v>`` (the template's choice).
    """

    def __init__(self, root, frame_H=FRAME_H, frame_W=FRAME_W, cache=True):
        root = check_root(root)
        self.videos = scan_test_videos(root)
        firsts, label_lists = [], []
        for v in self.videos:
            firsts.append(scan_frames(root / "test" / "test_img" / v)[0])
            label_lists.append(check_consecutive(scan_frames(root / "test" / "test_label" / v)))
        paths = firsts + [p for labels in label_lists for p in labels]
        frames = load_frames(root, "test", paths, frame_H, frame_W, cache=cache)
        self.first_frames = frames[:len(firsts)]
        bounds = np.cumsum([len(firsts)] + [len(labels) for labels in label_lists])
        self.labels = [frames[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, index):
        return to_float(self.first_frames[index:index + 1]), to_float(self.labels[index])


def load_test_ground_truth(root, frame_H=FRAME_H, frame_W=FRAME_W, cache=True):
    """The test videos' true frames from ``root/test/test_img_gt/<v>/`` -> float32 (V, L, 3, H, W) in
    [0, 1], videos in the order of :class:`Dataset_Test`. Only synthetic and imported datasets have it."""
    root = check_root(root)
    videos = scan_test_videos(root)
    gt_dir = _require_dir(root / "test" / "test_img_gt", "test ground truth, written by make_dataset.py")
    lists = [paired_frames(gt_dir / v, root / "test" / "test_label" / v)[0] for v in videos]
    lengths = {len(frames) for frames in lists}
    if len(lengths) != 1:
        raise UserInputError(f"{gt_dir}: the test videos have different lengths {sorted(lengths)}")
    frames = load_frames(root, "test_gt", [p for frames in lists for p in frames], frame_H, frame_W,
                         cache=cache)
    return to_float(frames).view(len(videos), lengths.pop(), 3, frame_H, frame_W)
