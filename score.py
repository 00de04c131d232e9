"""Score a submission CSV the way the course's Kaggle does (per-row 8-bit PSNR, frames 1..600;
public = videos 0-2, private = videos 3-4).

    python score.py runs/x/submission.csv --answer answer.csv     # against an answer CSV
    python score.py runs/x/submission.csv --DR data/synthetic      # against the dataset's test ground truth
    python score.py --DR data/synthetic --write_answer answer.csv  # write that ground truth as an answer CSV

Without --answer the answer is the test ground truth (test/test_img_gt) of --DR (default: the embedded
synthetic dataset). See docs/testing.md.
"""
import argparse
import json

from modules.config import build_train_parser
from modules.errors import UserInputError, exit_on_user_error
from modules.submission import (FRAME_SHAPE, FRAMES_PER_VIDEO, format_scores, ground_truth_pixels,
                                read_submission, score, write_submission)
from modules.training import dataset_root


def build_parser():
    defaults = build_train_parser()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", nargs="?", help="the submission CSV to score")
    parser.add_argument("--answer", help="answer CSV (same format); default: the test ground truth of --DR")
    parser.add_argument("--DR", default=None,
                        help="dataset with test/test_img_gt (default: the embedded synthetic one)")
    parser.add_argument("--frame_H", type=int, default=defaults.get_default("frame_H"))
    parser.add_argument("--frame_W", type=int, default=defaults.get_default("frame_W"))
    parser.add_argument("--frames_per_video", type=int, default=FRAMES_PER_VIDEO,
                        help="rows per video of an --answer CSV")
    parser.add_argument("--write_answer", metavar="CSV", help="write the ground truth of --DR as an answer CSV")
    parser.add_argument("--json", metavar="PATH", help="also write the scores as JSON")
    return parser


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    if not args.submission and not args.write_answer:
        raise UserInputError("nothing to do: give a submission CSV to score, or --write_answer")
    if args.answer:
        answer = read_submission(args.answer, args.frames_per_video, (FRAME_SHAPE[0], args.frame_H, args.frame_W))
    else:
        answer = ground_truth_pixels(dataset_root(args), args.frame_H, args.frame_W)
    if args.write_answer:
        path = write_submission(answer, args.write_answer)
        print(f"wrote {path} ({answer.shape[0]} videos x {answer.shape[1]} frames)")
    if args.submission:
        pred = read_submission(args.submission, answer.shape[1], answer.shape[2:], n_videos=answer.shape[0])
        result = score(pred, answer)
        print(format_scores(result))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({k: result[k] for k in ("public", "private", "overall")}
                          | {"per_video": result["per_video"].tolist()}, f, indent=1)


if __name__ == "__main__":
    main()
