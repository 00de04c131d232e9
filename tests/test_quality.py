"""Scoring a prediction GIF/CSV against a ground truth (modules/eval/quality.py, score.py) on tiny GIFs
written here: decoding (the template's doubled first frame, frame durations) and the metrics' values."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import score
from modules.eval.metrics import box_blur, moving_psnr, psnr_8bit, silhouette_iou, temporal_median, vacated_psnr
from modules.eval.quality import quality_scores, read_gif, read_video_file
from modules.eval.submission import write_submission


def studio_video(positions, h=4, w=8):
    """uint8 (T, 3, h, w): a white studio with a 2x2 black dancer at column ``positions[t]``."""
    video = np.full((len(positions), 3, h, w), 255, dtype=np.uint8)
    for t, x in enumerate(positions):
        video[t, :, 1:3, x:x + 2] = 0
    return video


def write_gif(video, path, durations):
    """A (T, 3, H, W) uint8 video as a GIF with the given frame durations (ms)."""
    images = [Image.fromarray(frame.transpose(1, 2, 0)) for frame in video]
    images[0].save(path, save_all=True, append_images=images[1:], duration=list(durations), loop=0)
    return path


TRUTH = studio_video([0, 2, 4, 6, 6])  # frames 3 and 4 are the same: a 40 ms GIF frame
PRED = studio_video([0, 1, 4, 5, 6])


@pytest.fixture
def gifs(tmp_path):
    truth = write_gif(TRUTH[:4], tmp_path / "truth.gif", [20, 20, 20, 40])
    # the template's make_gif: the first frame twice (one 40 ms frame once written), then the video
    pred = write_gif(PRED, tmp_path / "pred.gif", [40, 20, 20, 20, 20])
    return truth, pred


def test_gifs_decode_with_durations_and_without_the_doubled_first_frame(gifs):
    truth, pred = gifs
    np.testing.assert_array_equal(read_gif(truth, frames_per_video=5), TRUTH[None])
    np.testing.assert_array_equal(read_gif(pred, frames_per_video=5), PRED[None])  # 6 decoded, one dropped
    assert read_gif(pred, frames_per_video=6).shape == (1, 6, 3, 4, 8)  # 6 frames expected: nothing dropped
    np.testing.assert_array_equal(read_video_file(truth, frames_per_video=5), TRUTH[None])


def test_quality_scores_on_the_toy_videos():
    pred, truth = (torch.from_numpy(x[None].astype(np.float32) / 255) for x in (PRED, TRUTH))
    result = quality_scores(pred, truth)
    # the dancer covers 4 of 32 pixels; the studio is the median. Frame 1: truth dancer at columns 2-3,
    # prediction at 1-2: IoU 2/6; frame 2: 1; frame 3: columns 6-7 vs 5-6: 1/3; frame 4: 1.
    assert result["silhouette_iou"][0] == pytest.approx((1 / 3 + 1 + 1 / 3 + 1) / 4)
    # vacated: columns 0-1 of rows 1-2 in frames 1..4 (16 pixels); the prediction's dancer covers
    # column 1 in frame 1 (2 pixels, off by 255 in 3 channels): MSE 2/16
    assert result["vacated_psnr"][0] == pytest.approx(10 * np.log10(16 / 2), rel=1e-5)
    assert result["psnr"][0] == pytest.approx(float(psnr_8bit(PRED[1:], TRUTH[1:]).mean()), rel=1e-5)
    assert result["moving_psnr"][0] == pytest.approx(float(moving_psnr(pred, truth)[0]))
    # only frames 1 and 2 scored: the background still comes from all five frames
    two = quality_scores(pred, truth, frames=range(1, 3))
    assert two["silhouette_iou"][0] == pytest.approx((1 / 3 + 1) / 2)
    assert two["vacated_psnr"][0] == pytest.approx(10 * np.log10(8 / 2), rel=1e-5)


def test_dedithered_scores_blur_prediction_and_truth_before_the_background():
    pred, truth = (torch.from_numpy(x[None].astype(np.float32) / 255) for x in (PRED, TRUTH))
    result = quality_scores(pred, truth, dedither=True)
    blurred_pred, blurred_truth = box_blur(pred), box_blur(truth)
    background = temporal_median(blurred_truth)
    assert result["vacated_psnr"][0] == pytest.approx(float(vacated_psnr(blurred_pred, blurred_truth, background)[0]))
    assert result["silhouette_iou"][0] == pytest.approx(
        float(silhouette_iou(blurred_pred, blurred_truth, background)[0]))


def test_score_cli_scores_a_gif_against_a_gif_and_a_csv(gifs, tmp_path, capsys):
    truth, pred = gifs
    out = tmp_path / "scores.json"
    score.main([str(pred), "--answer", str(truth), "--json", str(out)])
    printed = capsys.readouterr().out
    assert "copy frame 0" in printed and "IoU" in printed
    stored = json.loads(out.read_text())
    expected = quality_scores(*(torch.from_numpy(x[None].astype(np.float32) / 255) for x in (PRED, TRUTH)))
    assert stored["overall"] == pytest.approx(float(psnr_8bit(PRED[1:], TRUTH[1:]).mean()))
    quality = stored["quality"]
    assert quality["frames"] == [1, 4] and quality["dedither"] is False
    for name, values in expected.items():
        assert quality["prediction"][name] == pytest.approx(values.tolist())
    assert quality["copy"]["silhouette_iou"] == [0.0]  # frame 0's dancer overlaps none of the later ones
    # the same prediction as a submission CSV scores the same
    csv = write_submission(PRED[None], tmp_path / "pred.csv")
    score.main([str(csv), "--answer", str(truth), "--json", str(out), "--dedither"])
    blurred = json.loads(out.read_text())["quality"]
    assert blurred["dedither"] is True and blurred["prediction"]["psnr"][0] > quality["prediction"]["psnr"][0]
