"""Build a LAB4-layout dataset from your own person videos and their pose videos.

Each source is a GIF, a video file read by imageio (MP4 and friends need the optional imageio-ffmpeg),
or a folder of numbered PNG frames. The frames of all (person, pose) pairs are put one after another
and cut in order: train first, then one validation video, then ``n_test`` test videos::

    [ train ... | val (val frames) | test 0 (test frames) | test 1 | ... ]

so the validation and test videos are the last stretches of the last pairs (with one pair per video of
the right length, the splits fall on video boundaries). Test videos are written like the course's (first
frame in ``test_img/<v>``, all labels in ``test_label/<v>``) plus their true frames in
``test_img_gt/<v>`` for scoring. ``dedither`` removes a palette GIF's dither from the person frames
(:mod:`modules.data.dither`).
"""

import struct
from pathlib import Path

from PIL import Image, ImageSequence
from tqdm import tqdm

from dataloader import open_png, scan_frames

from ..config import FILL_MODES, GIF_FRAME_MS
from ..errors import UserInputError
from ..io import write_json
from .dither import DITHER_EDGE, dedither_image
from .partial import partial_folder
from .synthetic import PNG_COMPRESS_LEVEL

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
IMPORT_RECORD = ".lab4_import.json"


# -- reading one source ----------------------------------------------------------------------------
def iter_frames(source, *, gif_frame_ms=GIF_FRAME_MS, template_gif=False):
    """Yield the frames of ``source`` (GIF, video file or folder of PNGs) as RGB PIL images.

    GIF: a frame whose duration is k * ``gif_frame_ms`` (k >= 2) is yielded k times (GIF writers merge
    identical consecutive frames into one longer frame); ``gif_frame_ms=0`` turns this off.
    ``template_gif``: the course template's ``make_gif`` saves the first frame twice: drop one copy.
    """
    frames = _raw_frames(Path(source), gif_frame_ms)
    if template_gif:
        next(frames, None)
    yield from frames


def _raw_frames(source, gif_frame_ms):
    if source.is_dir():
        for path in scan_frames(source):
            yield open_png(path)
    elif not source.is_file():
        raise UserInputError(f"{source} does not exist")
    elif source.suffix.lower() == ".gif":
        yield from _gif_frames(source, gif_frame_ms)
    elif source.suffix.lower() in VIDEO_SUFFIXES:
        for array in _video_arrays(source):
            yield Image.fromarray(array).convert("RGB")
    else:
        raise UserInputError(f"{source}: unsupported source; give a GIF, a video file "
                             f"({', '.join(VIDEO_SUFFIXES)}) or a folder of frame<N>.png files")


def _gif_frames(path, gif_frame_ms):
    try:
        with Image.open(path) as im:
            for frame in ImageSequence.Iterator(im):
                rgb = frame.convert("RGB")
                yield from [rgb] * _gif_repeats(frame.info.get("duration"), gif_frame_ms)
    except (OSError, SyntaxError, ValueError, IndexError, EOFError, struct.error) as err:
        # Pillow's GIF decoder meets a cut-off file with any of these, by where the cut falls
        raise UserInputError(f"{path}: cannot read the GIF, the file is corrupt or truncated "
                             f"({err or type(err).__name__})") from None


def _gif_repeats(duration, gif_frame_ms):
    if not gif_frame_ms or not duration or duration % gif_frame_ms:
        return 1
    return int(duration // gif_frame_ms)


def _video_arrays(path):
    import importlib.util

    import imageio.v3 as iio

    if not any(importlib.util.find_spec(name) for name in ("imageio_ffmpeg", "av")):
        raise UserInputError(f"{path}: reading {path.suffix} files needs the optional package "
                             "imageio-ffmpeg (pip install imageio-ffmpeg); or convert the video to a GIF "
                             "or a folder of PNG frames")
    try:
        yield from iio.imiter(path)
    except (OSError, RuntimeError, ValueError) as err:
        raise UserInputError(f"{path}: cannot read the video ({reader_error(err)})") from None


def reader_error(err):
    """The gist of a video reader's error: its first line and ffmpeg's own last line, without the banner,
    build configuration and library versions that imageio appends (15 lines)."""
    head, _, stderr = str(err).partition("=== stderr ===")
    first = next((line.strip() for line in head.splitlines() if line.strip()), type(err).__name__)
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    return f"{first}; ffmpeg: {last}" if last else first


def count_frames(source, **options):
    """Number of frames :func:`iter_frames` yields for ``source`` (reads through a video once)."""
    return sum(1 for _ in iter_frames(source, **options))


# -- aligning a pair and planning the split -------------------------------------------------------
def aligned_length(n_person, n_pose, pose_offset, fill, names=("person", "pose")):
    """Frames a (person, pose) pair contributes: pose frame k belongs to person frame k + pose_offset.

    ``fill="repeat"`` keeps the first ``pose_offset`` person frames and labels them with pose frame 0;
    ``fill="drop"`` drops them.
    """
    if n_person < 1 or n_pose < 1:
        raise UserInputError(f"{names[0] if n_person < 1 else names[1]} has no frames")
    if n_pose + pose_offset != n_person:
        raise UserInputError(f"{names[0]} has {n_person} frames but {names[1]} has {n_pose} "
                             f"(with --pose_offset {pose_offset} they must add up to {n_person}); pose "
                             "frame k must belong to person frame k + pose_offset")
    return n_person if fill == "repeat" else n_pose


def split_amount(text, total):
    """A split size: "630" (or "630.0") -> 630 frames, "0.1" -> round(0.1 * total); a fraction is at most 1."""
    text = str(text)
    try:
        value = float(text) if "." in text else int(text)
    except ValueError:
        raise UserInputError(f"split size {text!r}: give a frame count (630) or a fraction (0.1)") from None
    if isinstance(value, float) and value > 1:
        if not value.is_integer():
            raise UserInputError(f"split size {text!r}: give a frame count (630) or a fraction up to 1 (0.1)")
        value = int(value)
    frames = int(round(value * total)) if isinstance(value, float) else value
    if frames < 1:
        raise UserInputError(f"split size {text!r} gives {frames} frames out of {total}: need at least 1")
    return frames


def plan_split(total, val, test, n_test):
    """(train_len, val_len, test_len) of a ``total``-frame sequence; ``test_len`` per test video."""
    if n_test < 1:
        raise UserInputError(f"n_test must be at least 1, got {n_test}")
    val_len, test_len = split_amount(val, total), split_amount(test, total)
    train_len = total - val_len - n_test * test_len
    if train_len < 1:
        raise UserInputError(f"{total} frames cannot hold val={val_len} + {n_test} x test={test_len} "
                             "frames and leave any for training; give smaller --val/--test")
    return train_len, val_len, test_len


def destinations(g, train_len, val_len, test_len):
    """Relative paths of frame ``g`` of the sequence: (image paths, label path)."""
    if g < train_len:
        name = f"frame{g}.png"
        return [Path("train/train_img") / name], Path("train/train_label") / name
    if g < train_len + val_len:
        name = f"frame{g - train_len}.png"
        return [Path("val/val_img") / name], Path("val/val_label") / name
    v, i = divmod(g - train_len - val_len, test_len)
    name = f"frame{i}.png"
    images = [Path(f"test/test_img_gt/{v}") / name]
    if i == 0:
        images.append(Path(f"test/test_img/{v}") / name)
    return images, Path(f"test/test_label/{v}") / name


# -- the import -----------------------------------------------------------------------------------
def _pair_frames(person, pose, pose_offset, fill, options):
    """(person frame, its pose frame) of one source pair, aligned as in :func:`aligned_length`."""
    poses = iter_frames(pose, **options)
    label = next(poses)
    for k, image in enumerate(iter_frames(person, **options)):
        if k > pose_offset:
            label = next(poses)
        if k >= pose_offset or fill == "repeat":
            yield image, label


def check_dedither_sources(pairs):
    """``--dedither`` is for palette GIFs: a person source that is not a GIF is an error naming it."""
    for person, _ in pairs:
        if Path(person).is_dir() or Path(person).suffix.lower() != ".gif":
            raise UserInputError(f"{person}: --dedither removes a palette GIF's dither and this person source "
                                 "is not a GIF (PNG frames and videos have no palette dither); import it "
                                 "without --dedither")


def _resized(image, frame_size):
    if frame_size is None:
        return image
    return image.resize((frame_size[1], frame_size[0]), Image.BILINEAR)


def import_dataset(pairs, out, *, val="0.1", test="0.1", n_test=1, frame_size=None, pose_offset=0,
                   fill="repeat", gif_frame_ms=GIF_FRAME_MS, template_gif=False, dedither=False,
                   progress=True):
    """Write the (person, pose) source ``pairs`` as a LAB4-layout dataset at ``out``; return the split.

    ``val``/``test``: frame counts ("630") or fractions of all frames ("0.1"); ``test`` is per test
    video. ``frame_size`` (H, W) resizes with PIL bilinear (default: keep the source size; person and
    pose frames must then have the same size). ``dedither``: every person frame (never a pose label) goes
    through :func:`modules.data.dither.dedither_image` at the source size, before any resize; every person
    source must then be a GIF. The dataset is written to ``<out>.partial`` and renamed, with the import
    parameters in ``out/.lab4_import.json``. Returns {"train", "val", "test", "n_test"}.
    """
    out = Path(out)
    if fill not in FILL_MODES:
        raise UserInputError(f"fill must be one of {FILL_MODES}, got {fill!r}")
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out} is a file; choose a new folder")
    if out.exists() and any(out.iterdir()):
        raise UserInputError(f"{out} already exists and is not empty; choose a new --out folder")
    if dedither:
        check_dedither_sources(pairs)
    options = {"gif_frame_ms": gif_frame_ms, "template_gif": template_gif}
    lengths = []
    for person, pose in pairs:
        n_person, n_pose = count_frames(person, **options), count_frames(pose, **options)
        lengths.append(aligned_length(n_person, n_pose, pose_offset, fill, names=(person, pose)))
    train_len, val_len, test_len = plan_split(sum(lengths), val, test, n_test)
    tmp = partial_folder(out)
    g = 0
    with tqdm(total=sum(lengths), desc=f"importing into {out}", unit="frame",
              disable=None if progress else True) as bar:
        for person, pose in pairs:
            for image, label in _pair_frames(person, pose, pose_offset, fill, options):
                if dedither:
                    image = dedither_image(image)
                image, label = _resized(image, frame_size), _resized(label, frame_size)
                if image.size != label.size:
                    raise UserInputError(f"{person} frames are {image.size[0]}x{image.size[1]} but {pose} "
                                         f"frames are {label.size[0]}x{label.size[1]} (W x H); give "
                                         "--frame_size HxW to resize both")
                images, label_path = destinations(g, train_len, val_len, test_len)
                for rel in images:
                    _save(image, tmp / rel)
                _save(label, tmp / label_path)
                g += 1
                bar.update()
    split = {"train": train_len, "val": val_len, "test": test_len, "n_test": n_test}
    record = {"pairs": [[str(a), str(b)] for a, b in pairs], "frame_size": frame_size,
              "pose_offset": pose_offset, "fill": fill, "gif_frame_ms": gif_frame_ms,
              "template_gif": template_gif, "dedither": dedither,
              "dedither_edge": DITHER_EDGE if dedither else None, **split}
    write_json(tmp / IMPORT_RECORD, record)
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return split


def _save(image, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
