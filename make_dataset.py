"""Make or check a dataset in the LAB4 layout.

    python make_dataset.py synthetic                      # the default dataset at data/synthetic
    python make_dataset.py synthetic --out data/big --frame_size 512x1024 --seed 1
    python make_dataset.py synthetic --out data/per_video --dancers per_video   # a new dancer per video
    python make_dataset.py import --pair person.gif pose.gif --out data/mine --val 0.1 --test 0.1
    python make_dataset.py import --pair person.gif pose.gif --out data/mine --dedither  # palette GIFs
    python make_dataset.py check --DR data/mine           # validate it and build the frame caches

See docs/data.md for the layout, the options and examples.
"""

from modules.config import build_make_dataset_parser
from modules.errors import exit_on_user_error


def run_synthetic(args):
    from modules.data.synthetic import default_dataset_root, ensure_synthetic_dataset, generate_dataset

    params = dict(seed=args.seed, frame_size=args.frame_size, n_train_videos=args.n_train_videos,
                  train_video_len=args.train_video_len, val_len=args.val_len, n_test=args.n_test,
                  test_len=args.test_len, dancers=args.dancers)
    out = args.out or default_dataset_root()
    root = generate_dataset(out, **params) if args.force else ensure_synthetic_dataset(out, **params)
    print(f"synthetic dataset ready at {root}")


def run_import(args):
    from modules.data.video_import import import_dataset

    split = import_dataset([tuple(pair) for pair in args.pair], args.out, val=args.val, test=args.test,
                           n_test=args.n_test, frame_size=args.frame_size, pose_offset=args.pose_offset,
                           fill=args.fill, gif_frame_ms=args.gif_frame_ms, template_gif=args.template_gif,
                           dedither=args.dedither)
    print(f"imported into {args.out}: {split['train']} train frames, {split['val']} val frames, "
          f"{split['n_test']} test video(s) of {split['test']} frames")


def run_check(args):
    from modules.data.datasets import check_dataset

    print(check_dataset(args.DR, args.frame_H, args.frame_W, args.train_vi_len, args.val_vi_len))


@exit_on_user_error
def main(argv=None):
    args = build_make_dataset_parser(__doc__).parse_args(argv)
    {"synthetic": run_synthetic, "import": run_import, "check": run_check}[args.command](args)


if __name__ == "__main__":
    main()
