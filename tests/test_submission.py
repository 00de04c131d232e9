"""The Kaggle submission CSV (format, pixel order, clamping) and the local scorer."""
import math

import numpy as np
import pytest
import torch

from modules.errors import UserInputError
from modules.eval.metrics import MIN_MSE, psnr_8bit
from modules.eval.submission import (csv_header, read_submission, score, score_files, to_pixels,
                                write_submission)


def test_round_trip_header_ids_and_pixel_order(tmp_path):
    videos = torch.rand(2, 3, 3, 4, 5) * 1.4 - 0.2  # some values outside [0, 1]
    videos[1, 2, 2, 1, 3] = 77 / 255
    path = write_submission(videos, tmp_path / "sub.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "id," + ",".join(str(k) for k in range(60))
    assert len(lines) == 1 + 2 * 3
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(6))
    # row id = video * frames + frame; pixel column k = c*H*W + h*W + w
    assert lines[1 + 1 * 3 + 2].split(",")[1 + 2 * 20 + 1 * 5 + 3] == "77"
    stored = read_submission(path, frames_per_video=3, frame_shape=(3, 4, 5))
    expected = np.rint(255 * videos.numpy().astype(np.float64)).clip(0, 255)
    np.testing.assert_array_equal(stored, expected)
    assert [p.name for p in tmp_path.iterdir()] == ["sub.csv"]


def test_course_frame_shape_puts_pixel_c_h_w_at_column_c2048_h64_w(tmp_path):
    videos = torch.zeros(1, 2, 3, 32, 64)
    videos[0, 1, 2, 31, 63] = 1.0
    videos[0, 1, 1, 3, 5] = 10 / 255
    lines = write_submission(videos, tmp_path / "sub.csv").read_text().splitlines()
    assert lines[0] == csv_header(6144) and lines[0].endswith(",6143")
    row = [int(x) for x in lines[2].split(",")]
    assert row[0] == 1 and len(row) == 6145
    assert row[1 + 2 * 2048 + 31 * 64 + 63] == 255 and row[1 + 1 * 2048 + 3 * 64 + 5] == 10
    assert sum(row[1:]) == 265


def test_values_are_rounded_and_clamped_to_0_255():
    x = torch.tensor([-1.0, 0.0, 0.4 / 255, 0.6 / 255, 0.5, 1.0, 2.0, float(np.float32(254.5 / 255))])
    assert to_pixels(x).tolist() == [0, 0, 0, 1, 128, 255, 255, 254]  # rint: 127.5 -> 128, 254.5 -> 254
    assert to_pixels(x).dtype == np.uint8


def test_scorer_on_a_hand_computed_case():
    # 5 videos of 630 frames of 2 pixels; video v is off by d[v] everywhere in frames 1..600.
    answer = np.full((5, 630, 1, 1, 2), 100.0)
    pred = answer.copy()
    errors = [1, 255, 5, 10, 51]
    for v, d in enumerate(errors):
        pred[v, 1:601] += d
    pred[:, 0] = 0  # frame 0 (the given frame) and frames 601..629 are not scored
    pred[:, 601:] = 255
    result = score(pred, answer)
    psnr = [48.1308036, 0.0, 34.1514035, 28.1308036, 13.9794001]  # 20*log10(255/d)
    assert result["frames"] == list(range(1, 601))
    np.testing.assert_allclose(result["per_video"], psnr, atol=1e-6)
    assert result["public"] == pytest.approx((48.1308036 + 0.0 + 34.1514035) / 3)
    assert result["private"] == pytest.approx((28.1308036 + 13.9794001) / 2)


def test_a_perfect_frame_is_capped_at_100_db():
    frame = np.zeros((3, 4, 4))
    assert psnr_8bit(frame, frame) == pytest.approx(20 * math.log10(255) - 10 * math.log10(MIN_MSE))
    assert psnr_8bit(frame, frame) == pytest.approx(100.0)


def _answer(tmp_path, n_videos=2, frames=3):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (n_videos, frames, 1, 2, 2))
    return write_submission(pixels, tmp_path / "answer.csv"), pixels


def test_score_files_agrees_with_score_on_the_arrays(tmp_path):
    answer_path, answer = _answer(tmp_path)
    pred = np.clip(answer + np.arange(-3, 3).reshape(2, 3, 1, 1, 1), 0, 255)
    pred_path = write_submission(pred, tmp_path / "pred.csv")
    result = score_files(pred_path, answer_path, frames_per_video=3, frame_shape=(1, 2, 2))
    np.testing.assert_allclose(result["per_frame"], psnr_8bit(pred[:, 1:], answer[:, 1:]))
    assert result["private"] is None and result["frames"] == [1, 2]


@pytest.mark.parametrize("edit, message", [
    (lambda lines: ["id,0,1,2"] + lines[1:], "bad header: expected 'id,0,1,...,3'"),
    (lambda lines: ["Id,0,1,2,3"] + lines[1:], "column 1 is 'Id' where 'id' was expected"),
    (lambda lines: ["id ,0,1,2,3"] + lines[1:], "column 1 is 'id ' where 'id' was expected"),
    (lambda lines: lines[:-1], "5 rows, expected 6"),
    (lambda lines: lines[:2] + [lines[3], lines[2]] + lines[4:], "line 3 has id 2, expected 1"),
    (lambda lines: lines[:4] + [lines[4].rsplit(",", 1)[0]] + lines[5:], "line 5 has 4 fields, expected 5"),
    (lambda lines: lines[:2] + [lines[2].replace(",", ",x", 1)] + lines[3:], "line 3, column 2: 'x"),
    (lambda lines: lines[:1], "has a header but no rows"),
])
def test_format_errors_name_the_file_and_line(tmp_path, edit, message):
    answer_path, answer = _answer(tmp_path)
    lines = write_submission(answer, tmp_path / "pred.csv").read_text().splitlines()
    bad = tmp_path / "pred.csv"
    bad.write_text("\n".join(edit(lines)) + "\n")
    with pytest.raises(UserInputError, match="pred.csv") as err:
        score_files(bad, answer_path, frames_per_video=3, frame_shape=(1, 2, 2))
    assert message in str(err.value)


def test_windows_line_endings_are_read(tmp_path):
    answer_path, answer = _answer(tmp_path)
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(answer_path.read_bytes().replace(b"\n", b"\r\n"))
    np.testing.assert_array_equal(read_submission(crlf, frames_per_video=3, frame_shape=(1, 2, 2)), answer)


def test_missing_file_and_non_finite_values(tmp_path):
    answer_path, answer = _answer(tmp_path)
    with pytest.raises(UserInputError, match="nope.csv does not exist"):
        score_files(tmp_path / "nope.csv", answer_path, frames_per_video=3, frame_shape=(1, 2, 2))
    lines = answer_path.read_text().splitlines()
    bad = tmp_path / "inf.csv"
    bad.write_text("\n".join(lines[:2] + ["1,inf,0,0,0"] + lines[3:]) + "\n")
    with pytest.raises(UserInputError, match="line 3 holds a value that is not a finite number"):
        score_files(bad, answer_path, frames_per_video=3, frame_shape=(1, 2, 2))


def test_unwritable_target_is_a_clear_error_and_leaves_nothing(tmp_path):
    with pytest.raises(UserInputError, match="cannot write"):
        write_submission(torch.zeros(1, 1, 3, 2, 2), tmp_path / "missing_dir" / "sub.csv")
    assert list(tmp_path.iterdir()) == []


def test_score_without_dr_uses_the_dataset_tester_recorded_and_says_which(tiny_dataset, tmp_path, capsys):
    import json

    import score
    submission = tmp_path / "out" / "submission.csv"
    submission.parent.mkdir()
    score.main(["--DR", str(tiny_dataset), "--write_answer", str(submission)])  # a perfect submission
    (tmp_path / "out" / "test_summary.json").write_text(json.dumps({"dataset": str(tiny_dataset)}))
    capsys.readouterr()
    score.main([str(submission)])
    out = capsys.readouterr().out
    assert out.startswith(f"answer: the test ground truth of {tiny_dataset} (test/test_img_gt); pass --DR")
    assert "100.000" in out
