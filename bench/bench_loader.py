"""Loader throughput: the course template's way vs dataloader.py, side by side on the same frames.

    python bench/bench_loader.py                  # 200 generated 512x1024 frame pairs, clips of 16
    python bench/bench_loader.py --n_frames 400 --frame_size 512x1024

Rows (frames/s counts image + label pairs):
  template      a Dataset whose __getitem__ opens, converts and resizes every PNG of a clip (per epoch)
  ours cold     Dataset_Dance with no cache: scan, parallel decode, write the cache, then one epoch
  ours warm     Dataset_Dance from its disk cache, then one epoch (what every later run does)
  ours epoch    one more pass over an already built Dataset_Dance (every later epoch of a run)
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dataloader import CACHE_DIR_NAME, Dataset_Dance, scan_frames  # noqa: E402
from modules.data.synthetic import generate_dataset  # noqa: E402

FRAME_H, FRAME_W = 32, 64


class TemplateDataset(torch.utils.data.Dataset):
    """The template's loader: per item, open + RGB + bilinear resize + to-tensor for each frame."""

    def __init__(self, root, video_len):
        self.images = scan_frames(Path(root) / "train" / "train_img")
        self.video_len = video_len

    def __len__(self):
        return len(self.images) // self.video_len

    def __getitem__(self, index):
        images, labels = [], []
        for path in self.images[index * self.video_len:(index + 1) * self.video_len]:
            label = path.parent.parent / "train_label" / path.name
            images.append(self._load(path))
            labels.append(self._load(label))
        return torch.stack(images), torch.stack(labels)

    @staticmethod
    def _load(path):
        image = Image.open(path).convert("RGB").resize((FRAME_W, FRAME_H), Image.BILINEAR)
        return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def one_epoch(dataset):
    for i in range(len(dataset)):
        dataset[i]


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure_loader(n_frames=200, frame_size=(512, 1024), video_len=16):
    """Generate ``n_frames`` frame pairs and time one epoch of the template's loader and of ours (cold:
    decode + write the cache; warm: read the cache; an epoch in memory). Returns (rows, frames per
    epoch, generation seconds), rows = [(name, seconds)]."""
    with tempfile.TemporaryDirectory() as tmp:
        gen_s, root = timed(lambda: generate_dataset(
            Path(tmp) / "ds", frame_size=frame_size, n_train_videos=1, train_video_len=n_frames,
            val_len=1, n_test=1, test_len=1, progress=False))
        n = video_len * (n_frames // video_len)  # frames an epoch touches
        template_s, _ = timed(lambda: one_epoch(TemplateDataset(root, video_len)))

        def ours():
            ds = Dataset_Dance(root, "train", video_len=video_len, frame_H=FRAME_H, frame_W=FRAME_W)
            one_epoch(ds)
            return ds

        shutil.rmtree(root / CACHE_DIR_NAME, ignore_errors=True)
        cold_s, _ = timed(ours)
        warm_s, ds = timed(ours)
        epoch_s, _ = timed(lambda: one_epoch(ds))
    rows = [("template (PIL per item)", template_s), ("ours cold (decode + cache)", cold_s),
            ("ours warm (disk cache)", warm_s), ("ours epoch (in memory)", epoch_s)]
    return rows, n, gen_s


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n_frames", type=int, default=200)
    parser.add_argument("--frame_size", default="512x1024", help="HxW of the generated frames")
    parser.add_argument("--video_len", type=int, default=16)
    args = parser.parse_args()
    frame_size = tuple(int(v) for v in args.frame_size.split("x"))
    torch.set_num_threads(1)
    rows, n, gen_s = measure_loader(args.n_frames, frame_size, args.video_len)
    print(f"{args.n_frames} frame pairs of {frame_size[0]}x{frame_size[1]} generated in {gen_s:.1f} s; "
          f"clips of {args.video_len}, resized to {FRAME_H}x{FRAME_W}")
    template_s = rows[0][1]
    print(f"{'method':<28}{'seconds':>10}{'frames/s':>12}{'vs template':>14}")
    for name, seconds in rows:
        print(f"{name:<28}{seconds:>10.3f}{n / seconds:>12.0f}{template_s / seconds:>13.1f}x")

if __name__ == "__main__":
    main()
