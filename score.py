"""Score a submission CSV the way the course's Kaggle does (per-row 8-bit PSNR, frames 1..600;
public = videos 0-2, private = videos 3-4).

    python score.py runs/x/submission.csv --answer answer.csv     # against an answer CSV
    python score.py runs/x/submission.csv --DR data/synthetic      # against the dataset's test ground truth
    python score.py --DR data/synthetic --write_answer answer.csv  # write that ground truth as an answer CSV
    python score.py pred.gif --answer ground_truth.gif --dedither  # one GIF against another (palette GIFs)

Without --answer the answer is the test ground truth (test/test_img_gt) of --DR; without --DR, of the
dataset Tester.py recorded in the test_summary.json beside the submission, else of the embedded
synthetic dataset. The answer used is always printed. Beside the Kaggle score it prints, per video and
for copying frame 0, the PSNR, the moving-pixel and vacated-region PSNRs and the dancer-silhouette IoU
(modules/eval/quality.py). A GIF is decoded as make_dataset.py import does (a 631-frame template GIF
loses its doubled first frame). See docs/testing.md and docs/quality.md.
"""
import json
from pathlib import Path

from modules.config import FRAME_SHAPE, VIDEO_LEN, build_score_parser
from modules.errors import UserInputError, exit_on_user_error
from modules.eval.quality import format_quality, quality_json, read_video_file, score_videos_against
from modules.eval.submission import format_scores, to_pixels, write_submission
from modules.io import check_output, write_json


def load_answer(args):
    """The answer pixels (V, T, 3, H, W): an --answer CSV, or the test ground truth of --DR."""
    if args.answer:
        print(f"answer: {args.answer}")
        return read_video_file(args.answer, args.frames_per_video or VIDEO_LEN,
                               (FRAME_SHAPE[0], args.frame_H, args.frame_W))
    from modules.data.datasets import dataset_root, load_ground_truth
    root = Path(args.DR) if args.DR else (recorded_dataset(args.submission) or dataset_root())
    print(f"answer: the test ground truth of {root} (test/test_img_gt)"
          + ("" if args.DR else "; pass --DR or --answer to choose another"))
    truth = load_ground_truth(root, args.frame_H, args.frame_W)
    if truth is None:
        raise UserInputError(f"{root} has no test ground truth (test/test_img_gt): pass --answer")
    if args.frames_per_video not in (None, truth.shape[1]):
        raise UserInputError(f"--frames_per_video {args.frames_per_video}, but the test videos of {root} have "
                             f"{truth.shape[1]} frames each: drop the flag (it is for an --answer CSV)")
    return to_pixels(truth)


def recorded_dataset(submission):
    """The dataset Tester.py made ``submission`` from (test_summary.json beside it), if it still exists."""
    if not submission:
        return None
    try:
        recorded = json.loads((Path(submission).parent / "test_summary.json").read_text())["dataset"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Path(recorded) if Path(recorded).is_dir() else None


@exit_on_user_error
def main(argv=None):
    args = build_score_parser(__doc__.split("\n\n")[0]).parse_args(argv)
    if not args.submission and not args.write_answer:
        raise UserInputError("nothing to do: give a submission CSV to score, or --write_answer")
    for flag, output in (("--write_answer", args.write_answer), ("--json", args.json)):
        if output:
            check_output(output, flag, inputs=(args.submission, args.answer))
    answer = load_answer(args)
    if args.write_answer:
        path = write_submission(answer, args.write_answer)
        print(f"wrote {path} ({answer.shape[0]} videos x {answer.shape[1]} frames)")
    if args.submission:
        pred = read_video_file(args.submission, answer.shape[1], answer.shape[2:], n_videos=answer.shape[0])
        result = score_videos_against(pred, answer, dedither=args.dedither)
        kaggle = result["kaggle"]
        print(f"{args.submission}: {pred.shape[0]} videos x {pred.shape[1]} frames; the answer: {answer.shape[0]} x "
              f"{answer.shape[1]}")
        print(format_scores(kaggle))
        print(format_quality(result))
        if args.json:
            write_json(args.json, {k: kaggle[k] for k in ("public", "private", "overall")}
                       | {"per_video": kaggle["per_video"].tolist(), "quality": quality_json(result)})


if __name__ == "__main__":
    main()
