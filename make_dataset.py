"""Make or check a dataset in the LAB4 layout.

    python make_dataset.py synthetic                      # the default dataset at data/synthetic
    python make_dataset.py synthetic --out data/big --frame_size 512x1024 --seed 1
    python make_dataset.py import --pair person.gif pose.gif --out data/mine --val 0.1 --test 0.1
    python make_dataset.py check --DR data/mine           # validate it and build the frame caches

See docs/data.md for the layout, the options and examples.
"""

import argparse

from modules.errors import exit_on_user_error


def _frame_size(text):
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 128x256, got {text!r}") from None
    return h, w


def _add_synthetic(sub):
    from modules import synthetic as s

    p = sub.add_parser("synthetic", help="generate the synthetic dance dataset")
    p.add_argument("--out", default=None, help="output folder (default: data/synthetic in the repo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frame_size", type=_frame_size, default="{}x{}".format(*s.DEFAULT_FRAME_SIZE), metavar="HxW",
                   help="size of the written frames (default %(default)s; the real dataset's is 512x1024)")
    p.add_argument("--n_train_videos", type=int, default=s.DEFAULT_N_TRAIN_VIDEOS)
    p.add_argument("--train_video_len", type=int, default=s.DEFAULT_TRAIN_VIDEO_LEN)
    p.add_argument("--val_len", type=int, default=s.DEFAULT_VAL_LEN)
    p.add_argument("--n_test", type=int, default=s.DEFAULT_N_TEST)
    p.add_argument("--test_len", type=int, default=s.DEFAULT_TEST_LEN)
    p.add_argument("--force", action="store_true", help="regenerate even if the folder is up to date")


def _add_import(sub):
    from modules import video_import as v

    p = sub.add_parser("import", help="build a dataset from person videos and their pose videos")
    p.add_argument("--pair", nargs=2, action="append", required=True, metavar=("PERSON", "POSE"),
                   help="a person video and its pose video: GIF, MP4 (needs imageio-ffmpeg) or a folder "
                        "of frame<N>.png; repeat for more videos, they are used in the given order")
    p.add_argument("--out", required=True, help="new output folder")
    p.add_argument("--val", default="0.1", help="validation frames: a count (630) or a fraction (0.1)")
    p.add_argument("--test", default="0.1", help="frames per test video: a count or a fraction")
    p.add_argument("--n_test", type=int, default=1, help="number of test videos")
    p.add_argument("--frame_size", type=_frame_size, default=None, metavar="HxW",
                   help="resize frames to HxW (default: keep the source size)")
    p.add_argument("--pose_offset", type=int, default=0,
                   help="pose frame k belongs to person frame k + pose_offset")
    p.add_argument("--fill", choices=v.FILL_MODES, default="repeat",
                   help="the first pose_offset person frames: label them with pose frame 0, or drop them")
    p.add_argument("--gif_frame_ms", type=int, default=v.GIF_FRAME_MS,
                   help="a GIF frame lasting k times this stands for k frames (0: no expansion)")
    p.add_argument("--template_gif", action="store_true",
                   help="GIFs from the course template's make_gif: drop the doubled first frame")


def _add_check(sub):
    p = sub.add_parser("check", help="validate a dataset and build its frame caches")
    p.add_argument("--DR", required=True, help="dataset root in the LAB4 layout")
    p.add_argument("--frame_H", type=int, default=32)
    p.add_argument("--frame_W", type=int, default=64)
    p.add_argument("--train_vi_len", type=int, default=16)
    p.add_argument("--val_vi_len", type=int, default=630)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_synthetic(sub)
    _add_import(sub)
    _add_check(sub)
    return parser


def run_synthetic(args):
    from modules.synthetic import default_dataset_root, ensure_synthetic_dataset, generate_dataset

    params = dict(seed=args.seed, frame_size=args.frame_size, n_train_videos=args.n_train_videos,
                  train_video_len=args.train_video_len, val_len=args.val_len, n_test=args.n_test,
                  test_len=args.test_len)
    out = args.out or default_dataset_root()
    root = generate_dataset(out, **params) if args.force else ensure_synthetic_dataset(out, **params)
    print(f"synthetic dataset ready at {root}")


def run_import(args):
    from modules.video_import import import_dataset

    split = import_dataset([tuple(pair) for pair in args.pair], args.out, val=args.val, test=args.test,
                           n_test=args.n_test, frame_size=args.frame_size, pose_offset=args.pose_offset,
                           fill=args.fill, gif_frame_ms=args.gif_frame_ms, template_gif=args.template_gif)
    print(f"imported into {args.out}: {split['train']} train frames, {split['val']} val frames, "
          f"{split['n_test']} test video(s) of {split['test']} frames")


def run_check(args):
    from dataloader import Dataset_Dance, Dataset_Test

    size = dict(frame_H=args.frame_H, frame_W=args.frame_W)
    train = Dataset_Dance(args.DR, "train", video_len=args.train_vi_len, **size)
    val = Dataset_Dance(args.DR, "val", video_len=args.val_vi_len, **size)
    test = Dataset_Test(args.DR, **size)
    lengths = sorted({len(labels) for labels in test.labels})
    print(f"{args.DR}: train {train.n_frames} frames ({len(train)} clips of {args.train_vi_len}), "
          f"val {val.n_frames} frames, test {len(test)} videos with {lengths} labels each: ok")


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    {"synthetic": run_synthetic, "import": run_import, "check": run_check}[args.command](args)


if __name__ == "__main__":
    main()
