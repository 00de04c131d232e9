"""The README's picture: chosen frames of a run's best validation rollout, one row each.

    python bench/rollout_strip.py runs/cpu_pyramid --out docs/cpu_pyramid_rollout.png
    python bench/rollout_strip.py runs/cpu_pyramid --frames 1 150 300 450 --out strip.png

Reads ``<run>/val_rollout_best.gif`` (each frame: ground truth | prediction | pose, as Trainer.py
writes it) and stacks the chosen frames as rows, so the picture always comes from a real run.
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_FRAMES = (1, 150, 300, 450, 600)
GAP = 2  # pixels of white between rows


def read_frames(gif, frames):
    """The RGB arrays (H, W, 3) of ``frames`` of ``gif``; an error names a frame it lacks."""
    with Image.open(gif) as im:
        if max(frames) >= im.n_frames:
            raise SystemExit(f"error: {gif} has {im.n_frames} frames, no frame {max(frames)}")
        out = []
        for t in frames:
            im.seek(t)
            out.append(np.asarray(im.convert("RGB")))
        return out


def stack_rows(rows, gap=GAP):
    """Rows (H, W, 3) one under the other with ``gap`` white pixels between them."""
    white = np.full((gap, rows[0].shape[1], 3), 255, dtype=np.uint8)
    parts = [p for row in rows for p in (row, white)][:-1]
    return np.concatenate(parts, axis=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder (--save_root) with val_rollout_best.gif")
    parser.add_argument("--frames", type=int, nargs="+", default=list(DEFAULT_FRAMES))
    parser.add_argument("--out", type=Path, default=Path("rollout_strip.png"))
    args = parser.parse_args(argv)
    gif = args.run / "val_rollout_best.gif"
    if not gif.is_file():
        raise SystemExit(f"error: {gif} does not exist: pass a run folder of Trainer.py")
    Image.fromarray(stack_rows(read_frames(gif, args.frames))).save(args.out)
    print(f"wrote {args.out}: frames {', '.join(map(str, args.frames))} of {gif}")


if __name__ == "__main__":
    main()
