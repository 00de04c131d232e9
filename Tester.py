"""Make the Kaggle submission of NYCU DLP Lab 4 from a trained checkpoint.

    python Tester.py --ckpt_path runs/x/checkpoints/best.pt                    # embedded synthetic data
    python Tester.py --DR LAB4_Dataset --ckpt_path best.pt --save_root out --make_gif
    python Tester.py --DR LAB4_Dataset --ckpt_path template.ckpt --F_dim 128   # a course-template checkpoint

Writes submission.csv (header id,0..6143; row video*630+frame), test_summary.json and, with
--make_gif, pred_seq<v>.gif. See docs/testing.md.
"""
from modules.config import parse_test_args
from modules.errors import exit_on_user_error
from modules.eval.tester import make_submission
from modules.runtime import configure


@exit_on_user_error
def main(argv=None):
    cfg = parse_test_args(argv)
    settings = configure(cfg.device, cfg.channels_last, cfg.amp)
    cfg.channels_last, cfg.amp = settings["channels_last"], settings["amp"]
    make_submission(cfg)


if __name__ == "__main__":
    main()
