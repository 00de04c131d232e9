"""Score checkpoints on real course videos beside a public solution, and draw GT | ours | peer strips.

    python bench/real_videos.py --gif_root path/to/lab4_gif --ckpt runs/lab4/checkpoints/best.pt \\
        --test seq2=data/lab4_gif_dd_seq2test --test seq3=data/lab4_gif_dd --strips docs

For each ``--test NAME=DATASET`` (an import whose only test video is ``NAME``, e.g. made by
``make_dataset.py import ... --dedither``), Tester.py's code rolls the checkpoint out on it and writes
its submission CSV; that CSV is scored as ``score.py`` scores it, against ``<gif_root>/NAME/
ground_truth.gif``: the Kaggle-style PSNR on the raw GIF, the other metrics de-dithered (3x3 box blur of
both, as in the shared table), and the Kaggle-style PSNR against the dataset's own (de-dithered) truth.
``<gif_root>/peer/NAME_pred.gif`` (a public course solution), when there, and copying frame 0 are scored
the same way. ``--strips DIR`` writes ``lab4_gif_NAME.png``: frames 1/150/300/450/600 as rows of
ground truth | ours | peer (``--strip_frames`` others, to ``lab4_gif_NAME_frames.png``). ``--segments N``:
per N frames of 1..600, the de-dithered silhouette IoU of each video and its dancer's mean size in pixels
beside the truth's (where a model loses, e.g. a close-up).
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.append(str(Path(__file__).resolve().parent))  # rollout_strip, when imported as bench.real_videos

from modules.config import parse_test_args  # noqa: E402
from modules.eval.metrics import box_blur, dancer_mask, silhouette_iou, temporal_median  # noqa: E402
from modules.eval.quality import read_gif, score_videos_against  # noqa: E402
from modules.eval.submission import read_submission, score  # noqa: E402
from modules.eval.tester import make_submission  # noqa: E402
from dataloader import load_test_ground_truth  # noqa: E402
from rollout_strip import stack_rows  # noqa: E402  (bench/, the README picture's row stacking)

STRIP_FRAMES = (1, 150, 300, 450, 600)
STRIP_SCALE = 4


def predict(ckpt, dataset):
    """Tester.py's submission (its defaults: prior z of seed 0) for ``dataset``'s test video with ``ckpt``
    -> 0..255 array (1, T, 3, H, W)."""
    with tempfile.TemporaryDirectory() as out:
        make_submission(parse_test_args(["--DR", str(dataset), "--ckpt_path", str(ckpt), "--save_root", out,
                                         "--device", "cpu"]))
        return read_submission(Path(out) / "submission.csv", n_videos=1)


def row(label, video, truth, own_truth):
    """One table row: Kaggle raw, de-dithered PSNR / vacated / IoU, Kaggle against the import's truth."""
    result = score_videos_against(video, truth, dedither=True)
    q = result["prediction"]
    own = score(video, own_truth)["overall"]
    return (f"| {label} | {result['kaggle']['overall']:.2f} | {q['psnr'][0]:.2f} | {q['moving_psnr'][0]:.2f} | "
            f"{q['vacated_psnr'][0]:.2f} | {q['silhouette_iou'][0]:.3f} | {own:.2f} |")


def strip(videos, frames=STRIP_FRAMES, scale=STRIP_SCALE):
    """Rows of frames ``frames``, each the videos side by side (0..255 arrays (T, 3, H, W)), enlarged."""
    rows = [np.concatenate([v[t].transpose(1, 2, 0) for v in videos], axis=1).astype(np.uint8) for t in frames]
    rows = [np.asarray(Image.fromarray(r).resize((r.shape[1] * scale, r.shape[0] * scale), Image.NEAREST))
            for r in rows]
    return Image.fromarray(stack_rows(rows))


def segment_table(videos, truth, size, last=600):
    """Markdown rows per ``size`` frames of 1..``last``: the truth's mean dancer pixels, then per video
    (``videos``: {label: 0..255 array (1, T, 3, H, W)}) its de-dithered silhouette IoU and dancer pixels."""
    def blurred(video):
        return box_blur(torch.from_numpy(np.asarray(video[0, :last + 1], dtype=np.float32) / 255))
    truth = blurred(truth)
    background = temporal_median(truth)
    videos = {label: blurred(v) for label, v in videos.items()}
    lines = ["| frames | truth's dancer (px) | " + " | ".join(f"{label}: IoU (px)" for label in videos) + " |",
             "|---|---:|" + "---:|" * len(videos)]
    for start in range(1, last + 1, size):
        kept = [0, *range(start, min(start + size, last + 1))]
        cells = [f"{silhouette_iou(v[kept], truth[kept], background):.3f} "
                 f"({dancer_mask(v[kept[1:]], background).sum((-2, -1)).float().mean():.0f})" for v in videos.values()]
        size_px = dancer_mask(truth[kept[1:]], background).sum((-2, -1)).float().mean()
        lines.append(f"| {start}-{kept[-1]} | {size_px:.0f} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gif_root", type=Path, required=True)
    parser.add_argument("--ckpt", type=Path, action="append", required=True, help="repeat for several")
    parser.add_argument("--test", action="append", required=True, metavar="NAME=DATASET")
    parser.add_argument("--strips", type=Path, default=None, help="folder for the GT | ours | peer strips")
    parser.add_argument("--strip_frames", type=int, nargs="+", default=list(STRIP_FRAMES), metavar="F")
    parser.add_argument("--segments", type=int, default=0, metavar="N", help="IoU and dancer size per N frames")
    args = parser.parse_args(argv)
    print("| video: model | Kaggle (raw) | PSNR | moving | vacated | IoU | Kaggle vs de-dithered truth |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for spec in args.test:
        name, dataset = spec.split("=", 1)
        truth = read_gif(args.gif_root / name / "ground_truth.gif")
        own_truth = np.rint(load_test_ground_truth(dataset).numpy() * 255)
        ours = [predict(ckpt, dataset) for ckpt in args.ckpt]
        for ckpt, video in zip(args.ckpt, ours):
            print(row(f"{name}: {ckpt.parent.parent.name}", video, truth, own_truth))
        peer_gif = args.gif_root / "peer" / f"{name}_pred.gif"
        peer = read_gif(peer_gif) if peer_gif.is_file() else None
        if peer is not None:
            print(row(f"{name}: peer", peer, truth, own_truth))
        print(row(f"{name}: copying frame 0", np.broadcast_to(truth[:, :1], truth.shape), truth, own_truth))
        if args.segments:
            shown = {ckpt.parent.parent.name: video for ckpt, video in zip(args.ckpt, ours)}
            print("", *segment_table(shown | ({"peer": peer} if peer is not None else {}), truth, args.segments),
                  "", sep="\n")
        if args.strips:
            shown = [truth[0], ours[0][0]] + ([peer[0]] if peer is not None else [])
            args.strips.mkdir(parents=True, exist_ok=True)
            chosen = tuple(args.strip_frames) != STRIP_FRAMES
            path = args.strips / f"lab4_gif_{name}{'_frames' if chosen else ''}.png"
            strip(shown, frames=args.strip_frames).save(path)
            print(f"wrote {path}: frames {', '.join(map(str, args.strip_frames))}, ground truth | ours | peer")


if __name__ == "__main__":
    main()
