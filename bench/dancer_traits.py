"""The dancer's traits per video, measured by the same code on the course's GIFs and on a LAB4 folder.

    python bench/dancer_traits.py --gif_root path/to/lab4_gif --synthetic data/synthetic
    python bench/dancer_traits.py --synthetic path/to/LAB4_Dataset --synthetic_studio shared  # any LAB4 folder

``--gif_root``: sub-folders (seq0, seq1, ...) each holding ``ground_truth.gif`` (the person frames, as
the course template's ``make_gif`` writes them) and ``pose.gif`` (the labels of frames 1..T-1,
docs/data.md). ``--synthetic``: a LAB4-layout folder; its train videos lie back to back in
``train/train_img`` and are cut every ``train_video_len`` frames (the ``.lab4_synthetic.json`` marker)
or, without a marker, where dataloader.video_starts sees a new scene; then ``val/val_img`` and, where
present, ``test/test_img_gt/<v>``. Labels are the files of the same name in the ``*_label`` folders.

Person frames are measured at the model's FRAME_H x FRAME_W (the template's bilinear resize),
de-dithered (3x3 box blur, as the metrics' de-dithered mode), labels at their own size. The dancer of a
frame is the silhouette-IoU metric's dark-dancer mask (metrics.dancer_mask: darker than the studio by
DANCER_DARKER in luminance) against an estimate of the empty studio (:func:`studio`), without specks.
A dancer whose clothes are as light as the studio is only partly in it.

The table (markdown), a row per video and a row per source (its frames pooled):
  centre p5-p95, min-max   the horizontal centroid of the silhouette, a fraction of the frame width
  cut by edge %            frames whose silhouette touches the left or right edge column
  almost out %             frames whose silhouette area is under 25% of the video's median area, or 0
  crouch %                 frames whose bbox height is under 80% of the video's 90th-percentile height
  profile % (pose found %) frames whose label's shoulder distance is under 40% of the video's
                           90th percentile, among the frames whose torso keypoints the colour match
                           finds (n/a where it finds them in under half the frames)
  height, area             medians of the bbox height (a fraction of the frame height) and of the
                           silhouette area (% of the frame)
"""
import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dataloader import video_starts  # noqa: E402
from modules.config import FRAME_H, FRAME_W  # noqa: E402
from modules.data.dance_video import JOINT_COLOURS, L_HIP, L_SHOULDER, R_HIP, R_SHOULDER  # noqa: E402
from modules.data.synthetic import MARKER_NAME  # noqa: E402
from modules.data.video_import import iter_frames  # noqa: E402
from modules.errors import UserInputError, exit_on_user_error  # noqa: E402
from modules.eval.metrics import box_blur, dancer_mask, luminance  # noqa: E402
from modules.eval.quality import read_gif  # noqa: E402

# The studio behind a video: per pixel the median over time of the de-dithered frames in which the pose
# label's skeleton, widened by ZONE_MARGIN of the frame height, does not cover it. A pixel that fewer than
# MIN_FREE_SHARE of the frames leave free (a dancer who never leaves a spot: real seq0, a synthetic one
# who hardly walks) takes the values of its row's nearest free pixels, interpolated; a row without any
# takes the STUDIO_QUANTILE quantile of its frames (the dancer is dark: the lighter frames show the
# studio). Without labels every pixel is free: the temporal median, as the silhouette-IoU metric takes.
# The frames are those of the video itself or of every video of its source (--*_studio shared: one
# studio and a fixed camera, as the course's; per-video estimates cannot tell one studio from two
# similar ones, hence a flag).
NON_WHITE = 250  # a label pixel with a channel below this is skeleton (the labels are drawn on white)
ZONE_MARGIN = 0.1
MIN_FREE_SHARE = 0.1
STUDIO_QUANTILE = 0.9
SPECK_SHARE = 0.002  # silhouette components under this share of the frame are dither specks: dropped
ALMOST_OUT_SHARE = 0.25  # almost out: area under this share of the video's median area, or none
CROUCH_SHARE, CROUCH_PERCENTILE = 0.8, 90  # crouch: bbox height < 80% of the video's 90th percentile
PROFILE_SHARE, PROFILE_PERCENTILE = 0.4, 90  # profile: shoulder distance < 40% of the 90th percentile
POSE_TOLERANCE = 40  # a keypoint pixel: every channel within this of the BODY_25 colour (GIF palettes)
POSE_FOUND_MIN = 0.5  # profile % only for a video whose torso keypoints are found in half its frames
SHOULDERS = (JOINT_COLOURS[R_SHOULDER], JOINT_COLOURS[L_SHOULDER])
HIPS = (JOINT_COLOURS[R_HIP], JOINT_COLOURS[L_HIP])
STUDIO_MODES = ("shared", "per_video")


@dataclass
class Video:
    """One video: uint8 person frames (T, 3, FRAME_H, FRAME_W); per frame its label's shoulder distance
    (T,) in label pixels (NaN where the torso keypoints are not found) and skeleton (T, FRAME_H, FRAME_W)
    bool (all False without labels)."""

    name: str
    frames: np.ndarray
    shoulders: np.ndarray
    skeletons: np.ndarray

    def part(self, name, a, b):
        """Frames a..b-1 as a video called ``name``."""
        return Video(name, self.frames[a:b], self.shoulders[a:b], self.skeletons[a:b])


def unlabelled(name, frames):
    """A video without pose labels."""
    n, _, h, w = frames.shape
    return Video(name, frames, np.full(n, np.nan), np.zeros((n, h, w), dtype=bool))


# -- the pose label ----------------------------------------------------------------------------------
def keypoint(pixels, colour, tolerance=POSE_TOLERANCE):
    """(x, y) centroid of the ``pixels`` (xs, ys, (N, 3) int colours) within ``tolerance`` of ``colour``
    in every channel, or None where there are none."""
    xs, ys, colours = pixels
    near = (np.abs(colours - np.array(colour)) <= tolerance).all(axis=-1)
    return (xs[near].mean(), ys[near].mean()) if near.any() else None


def shoulder_distance(pixels):
    """Distance between the two shoulder keypoints among a label's ``pixels`` (:func:`keypoint`), in
    label pixels; 0 where only one shows (OpenPose draws one dot over the other, or finds one shoulder
    only: a profile); NaN where the torso is not found (no shoulder or no hip keypoint)."""
    found = [s for s in (keypoint(pixels, c) for c in SHOULDERS) if s is not None]
    if not found or all(keypoint(pixels, c) is None for c in HIPS):
        return float("nan")
    return float(np.hypot(found[0][0] - found[-1][0], found[0][1] - found[-1][1]))


def skeleton(drawn):
    """A label's drawn pixels (H, W) bool at the frame size (a frame pixel is skeleton when any label
    pixel over it is) -> (FRAME_H, FRAME_W) bool."""
    drawn = torch.from_numpy(drawn).float()[None, None]
    return F.adaptive_max_pool2d(drawn, (FRAME_H, FRAME_W))[0, 0].bool().numpy()


def read_labels(labels):
    """Shoulder distances (T,) and skeletons (T, FRAME_H, FRAME_W) of an iterable of labels (PIL images
    or (H, W, 3) uint8 arrays): their drawn pixels are those with a channel below NON_WHITE."""
    shoulders, skeletons = [], []
    for label in labels:
        label = np.asarray(label)
        drawn = (label < NON_WHITE).any(axis=-1)
        ys, xs = np.nonzero(drawn)
        shoulders.append(shoulder_distance((xs, ys, label[ys, xs].astype(np.int16))))
        skeletons.append(skeleton(drawn))
    return np.array(shoulders, dtype=np.float64), np.stack(skeletons)


# -- reading the two kinds of source ----------------------------------------------------------------
def resized(image):
    """A PIL image -> uint8 (3, FRAME_H, FRAME_W): the template's bilinear resize."""
    return np.asarray(image.convert("RGB").resize((FRAME_W, FRAME_H), Image.BILINEAR)).transpose(2, 0, 1)


def gif_videos(gif_root):
    """The ``<seq>/ground_truth.gif`` + ``pose.gif`` videos under ``gif_root``, sorted by folder name."""
    folders = sorted(p.parent for p in Path(gif_root).glob("*/ground_truth.gif"))
    if not folders:
        raise UserInputError(f"{gif_root}: no <folder>/ground_truth.gif found")
    return [gif_video(folder) for folder in folders]


def gif_video(folder):
    """One course video: pose frame k is the label of person frame k + 1 (docs/data.md), frame 0 takes
    pose frame 0's; a folder without a pose.gif gives a video without labels."""
    person = read_gif(folder / "ground_truth.gif")[0]
    frames = np.stack([resized(Image.fromarray(f.transpose(1, 2, 0))) for f in person])
    if not (folder / "pose.gif").is_file():
        return unlabelled(folder.name, frames)
    labels = read_gif(folder / "pose.gif", frames_per_video=len(frames) - 1)[0].transpose(0, 2, 3, 1)
    offset = len(frames) - len(labels)
    if offset not in (0, 1):
        raise UserInputError(f"{folder / 'pose.gif'}: {len(labels)} labels for {len(frames)} frames "
                             f"(expected {len(frames) - 1})")
    shoulders, skeletons = read_labels(np.concatenate([labels[:offset], labels]))
    return Video(folder.name, frames, shoulders, skeletons)


def folder_video(name, img_dir, label_dir):
    """One video from a folder of frame<N>.png and its label folder (if present)."""
    frames = np.stack([resized(image) for image in iter_frames(img_dir)])
    if not Path(label_dir).is_dir():
        return unlabelled(name, frames)
    return Video(name, frames, *read_labels(iter_frames(label_dir)))


def train_cuts(root, frames):
    """Start frames of the back-to-back train videos: every ``train_video_len`` frames (the marker) or,
    without one, dataloader.video_starts's scene cuts."""
    marker = Path(root) / MARKER_NAME
    length = json.loads(marker.read_text()).get("train_video_len") if marker.is_file() else None
    if length:
        return list(range(0, len(frames), int(length)))
    return video_starts(torch.from_numpy(frames))


def dataset_videos(root, prefix="syn"):
    """The train videos, the val video and the test videos (with ground truth) of a LAB4 folder."""
    root = Path(root)
    train = folder_video("train", root / "train/train_img", root / "train/train_label")
    cuts = train_cuts(root, train.frames) + [len(train.frames)]
    videos = [train.part(f"{prefix} train{i}", a, b) for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    videos.append(folder_video(f"{prefix} val", root / "val/val_img", root / "val/val_label"))
    test_root = root / "test/test_img_gt"
    for v in sorted((p for p in test_root.glob("*") if p.is_dir()), key=lambda p: int(p.name)):
        videos.append(folder_video(f"{prefix} test{v.name}", v, root / "test/test_label" / v.name))
    return videos


# -- the studio and the silhouette ------------------------------------------------------------------
def to_float(frames):
    """uint8 (T, 3, H, W) -> de-dithered (3x3 box blur) float32 tensor in [0, 1]."""
    return box_blur(torch.from_numpy(np.ascontiguousarray(frames)).float() / 255)


def quantile_image(frames, q=STUDIO_QUANTILE):
    """Per pixel and channel the ``q`` quantile over time of (T, 3, H, W) -> (3, H, W)."""
    k = min(len(frames), max(1, int(np.ceil(q * len(frames)))))
    return frames.kthvalue(k, dim=0).values


def dancer_zones(skeletons):
    """(T, H, W) bool skeletons widened by ZONE_MARGIN of the frame height: where the dancer may be."""
    m = max(1, round(ZONE_MARGIN * skeletons.shape[-2]))
    zones = F.max_pool2d(torch.from_numpy(skeletons).float()[:, None], 2 * m + 1, stride=1, padding=m)
    return zones[:, 0].bool()


def fill_rows(image, known):
    """(C, H, W) ``image`` with its pixels where ``known`` (H, W) is False interpolated along their row
    between the nearest known pixels on either side (copied from the one side that has one); a row
    without a known pixel keeps its values."""
    c, h, w = image.shape
    cols = torch.arange(w).expand(h, w)
    left = torch.where(known, cols, -1).cummax(1).values
    right = torch.where(known, cols, w).flip(1).cummin(1).values.flip(1)
    weight = torch.where((left >= 0) & (right < w), (cols - left) / (right - left).clamp_min(1),
                         (right < w).float())
    sides = [image.gather(2, i.clamp(0, w - 1).expand(c, h, w)) for i in (left, right)]
    filled = sides[0] * (1 - weight) + sides[1] * weight
    return torch.where(known | ~((left >= 0) | (right < w)), image, filled)


def studio(blurred, zones):
    """The studio (3, H, W) behind de-dithered frames (T, 3, H, W) with dancer zones (T, H, W) bool: see
    the comment above NON_WHITE."""
    free = (~zones)[:, None].expand_as(blurred)
    median = torch.where(free, blurred, torch.nan).nanmedian(dim=0).values
    enough = free[:, 0].float().mean(0) >= MIN_FREE_SHARE
    fallback = torch.where(enough, median, quantile_image(blurred))
    return fill_rows(fallback, enough)


def studios(videos, blurred, mode):
    """The studio of each video: from its own frames (``mode`` "per_video") or all of them ("shared")."""
    zones = [dancer_zones(v.skeletons) for v in videos]
    if mode == "per_video":
        return [studio(b, z) for b, z in zip(blurred, zones)]
    return [studio(torch.cat(blurred), torch.cat(zones))] * len(videos)


def drop_specks(mask, min_pixels):
    """(T, H, W) bool without its 8-connected components of fewer than ``min_pixels`` pixels."""
    t, h, w = mask.shape
    fill = mask.float().unsqueeze(1)
    labels = torch.arange(1, h * w + 1, dtype=torch.float32).view(1, 1, h, w) * fill
    while True:  # each component takes the largest pixel index in it
        grown = F.max_pool2d(labels, 3, stride=1, padding=1) * fill
        if torch.equal(grown, labels):
            break
        labels = grown
    ids = (labels.view(t, -1).long() + torch.arange(t).view(t, 1) * (h * w + 1)).flatten()
    sizes = torch.bincount(ids, minlength=t * (h * w + 1))
    return (mask.flatten() & (sizes[ids] >= min_pixels)).view(t, h, w)


def silhouettes(blurred, background):
    """The dark dancer of each de-dithered frame (T, 3, H, W): the repo's silhouette-IoU mask
    (metrics.dancer_mask against the studio ``background``) without specks -> (T, H, W) bool."""
    h, w = blurred.shape[-2:]
    return drop_specks(dancer_mask(blurred, background), max(1, round(SPECK_SHARE * h * w)))


# -- the traits --------------------------------------------------------------------------------------
def frame_traits(mask):
    """Per frame of a (T, H, W) bool silhouette (NaN where it is empty):

    - ``centre``: the silhouette's horizontal centroid, a fraction of the frame width (0 left, 1 right);
    - ``height``: its bounding box height, a fraction of the frame height;
    - ``area``: its pixels, a share of the frame;
    - ``cut``: it touches the left or right edge column (the frame cuts the dancer).
    """
    mask = torch.as_tensor(mask)
    t, h, w = mask.shape
    area = mask.flatten(1).sum(1).double()
    cols = (torch.arange(w, dtype=torch.float64) + 0.5) / w
    centre = (mask.sum(1).double() * cols).sum(1) / area
    rows = torch.arange(h)
    filled = mask.any(2)
    top = torch.where(filled, rows, h).amin(1)
    bottom = torch.where(filled, rows, -1).amax(1)
    height = torch.where(area > 0, (bottom - top + 1).double() / h, torch.nan)
    cut = mask[:, :, 0].any(1) | mask[:, :, -1].any(1)
    return {"centre": centre.numpy(), "height": height.numpy(), "area": (area / (h * w)).numpy(),
            "cut": cut.numpy()}


def video_flags(traits, shoulders):
    """Per frame, relative to its own video:

    - ``almost_out``: the silhouette's area is under ALMOST_OUT_SHARE of the video's median area (or 0);
    - ``crouch``: the bbox height is under CROUCH_SHARE of the video's CROUCH_PERCENTILE height (a crouch
      or lunge; an empty frame is not one);
    - ``profile``: the label's shoulder distance is under PROFILE_SHARE of the video's
      PROFILE_PERCENTILE distance (the dancer turned sideways); NaN where the torso is not found.
    """
    area, height = traits["area"], traits["height"]
    almost_out = (area == 0) | (area < ALMOST_OUT_SHARE * np.median(area))
    reference = np.nanpercentile(height, CROUCH_PERCENTILE) if np.isfinite(height).any() else np.nan
    crouch = np.nan_to_num(height, nan=np.inf) < CROUCH_SHARE * reference
    profile = np.full(len(shoulders), np.nan)
    found = np.isfinite(shoulders)
    if found.any():
        profile[found] = shoulders[found] < PROFILE_SHARE * np.percentile(shoulders[found], PROFILE_PERCENTILE)
    return {"almost_out": almost_out, "crouch": crouch, "profile": profile}


def measure(video, blurred, background):
    """Per-frame traits and flags (:func:`frame_traits`, :func:`video_flags`) of one video, its frames
    de-dithered (``blurred``) and its studio (``background``)."""
    traits = frame_traits(silhouettes(blurred, background))
    return {**traits, **video_flags(traits, video.shoulders)}


def percent(flags):
    """The share of true values of a (T,) flag array, in %."""
    return 100 * float(np.mean(flags))


def summary(per_frame):
    """A table row's numbers from per-frame traits (a video's, or several videos' concatenated)."""
    centre = per_frame["centre"][np.isfinite(per_frame["centre"])]
    profile = per_frame["profile"]
    found = np.isfinite(profile)
    return {"frames": len(per_frame["area"]),
            "centre": np.percentile(centre, [5, 95, 0, 100]) if len(centre) else [np.nan] * 4,
            "cut": percent(per_frame["cut"]), "almost_out": percent(per_frame["almost_out"]),
            "crouch": percent(per_frame["crouch"]),
            "profile": percent(profile[found]) if found.mean() >= POSE_FOUND_MIN else None,
            "pose_found": 100 * float(found.mean()),
            "height": float(np.nanmedian(per_frame["height"])) if len(centre) else np.nan,
            "area": 100 * float(np.median(per_frame["area"]))}


def source_rows(name, videos, studio_mode):
    """(label, summary) rows: one per video, then the source's frames pooled."""
    blurred = [to_float(v.frames) for v in videos]
    measured = [measure(*args) for args in zip(videos, blurred, studios(videos, blurred, studio_mode))]
    pooled = {k: np.concatenate([m[k] for m in measured]) for k in measured[0]}
    return [(v.name, summary(m)) for v, m in zip(videos, measured)] + [(f"**{name}, all**", summary(pooled))]


COLUMNS = ("video", "frames", "centre p5-p95", "centre min-max", "cut by edge %", "almost out %", "crouch %",
           "profile % (pose found %)", "height (median)", "area % (median)")


def format_row(label, s):
    """One markdown table row of :func:`summary`'s numbers."""
    c = s["centre"]
    profile = "n/a" if s["profile"] is None else f"{s['profile']:.1f}"
    cells = [label, str(s["frames"]), f"{c[0]:.2f}-{c[1]:.2f}", f"{c[2]:.2f}-{c[3]:.2f}", f"{s['cut']:.1f}",
             f"{s['almost_out']:.1f}", f"{s['crouch']:.1f}", f"{profile} ({s['pose_found']:.0f})",
             f"{s['height']:.2f}", f"{s['area']:.1f}"]
    return "| " + " | ".join(cells) + " |"


def format_table(rows):
    """The markdown table of (label, summary) rows."""
    head = "| " + " | ".join(COLUMNS) + " |"
    rule = "|---|" + "---:|" * (len(COLUMNS) - 1)
    return "\n".join([head, rule] + [format_row(label, s) for label, s in rows])


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gif_root", type=Path, help="folder of <seq>/ground_truth.gif + pose.gif (course GIFs)")
    p.add_argument("--synthetic", type=Path, help="a LAB4-layout dataset folder (synthetic or imported)")
    p.add_argument("--gif_studio", choices=STUDIO_MODES, default="shared",
                   help="the --gif_root videos' studio: one for all (the course's: default) or one per video")
    p.add_argument("--synthetic_studio", choices=STUDIO_MODES, default="per_video",
                   help="the --synthetic videos' studio (default per_video: each synthetic video has its own)")
    return p


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.gif_root is None and args.synthetic is None:
        raise UserInputError("give --gif_root, --synthetic or both")
    rows = []
    if args.gif_root is not None:
        rows += source_rows("real", gif_videos(args.gif_root), args.gif_studio)
    if args.synthetic is not None:
        rows += source_rows("synthetic", dataset_videos(args.synthetic), args.synthetic_studio)
    print(format_table(rows))


if __name__ == "__main__":
    main()
