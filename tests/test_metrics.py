"""The metrics: SSIM against closed forms and an independent window-by-window implementation; the
moving-region and vacated-region PSNRs, the silhouette IoU, the box blur and the copy-frame-0 baseline
against hand-computed values."""
import math

import numpy as np
import pytest
import torch

from modules.eval.metrics import (K1, K2, MOVING_THRESHOLD, box_blur, copy_baseline, dancer_mask, dedithered,
                                  gaussian_window, luminance, moving_mask, moving_psnr, moving_share, psnr_per_frame,
                                  silhouette_iou, ssim_per_frame, temporal_median, vacated_mask, vacated_psnr)


def _reference_ssim(x, y, data_range=1.0, size=11, sigma=1.5):
    """Wang et al.'s SSIM written out window by window in float64 numpy: (C, H, W) x2 -> float.

    Weighted means/variances/covariance under an 11x11 Gaussian over every window that fits
    (population statistics), averaged over windows and channels (what scikit-image's
    structural_similarity gives with gaussian_weights=True, use_sample_covariance=False)."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-r ** 2 / (2 * sigma ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    values = []
    for xc, yc in zip(x, y):
        for i in range(xc.shape[0] - size + 1):
            for j in range(xc.shape[1] - size + 1):
                a, b = xc[i:i + size, j:j + size], yc[i:i + size, j:j + size]
                ma, mb = (w * a).sum(), (w * b).sum()
                va, vb = (w * (a - ma) ** 2).sum(), (w * (b - mb) ** 2).sum()
                cov = (w * (a - ma) * (b - mb)).sum()
                values.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_identical_frames_give_one():
    x = torch.rand(2, 4, 3, 32, 64)
    ssim = ssim_per_frame(x, x.clone())
    assert ssim.shape == (2, 4)
    torch.testing.assert_close(ssim, torch.ones(2, 4))


def test_constant_frames_give_the_luminance_term():
    a, b = 0.2, 0.7
    ssim = ssim_per_frame(torch.full((3, 16, 16), a), torch.full((3, 16, 16), b))
    c1 = (K1 * 1.0) ** 2
    assert float(ssim) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-6)


def test_matches_the_window_by_window_definition():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 14, 17, generator=gen, dtype=torch.float64)
    y = (x + 0.2 * torch.randn(3, 14, 17, generator=gen, dtype=torch.float64)).clamp(0, 1)
    expected = _reference_ssim(x.numpy(), y.numpy())
    assert float(ssim_per_frame(x, y)) == pytest.approx(expected, rel=1e-5)
    assert 0.1 < expected < 0.9


def test_data_range_scales_the_constants():
    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 3, 12, 12, generator=gen), torch.rand(2, 3, 12, 12, generator=gen)
    torch.testing.assert_close(ssim_per_frame(255 * x, 255 * y, data_range=255.0), ssim_per_frame(x, y))


def test_window_is_a_normalised_gaussian_and_small_frames_are_refused():
    g = gaussian_window()
    assert g.shape == (11,) and float(g.sum()) == pytest.approx(1.0) and int(g.argmax()) == 5
    with pytest.raises(ValueError, match="smaller than the 11x11 SSIM window"):
        ssim_per_frame(torch.rand(3, 8, 64), torch.rand(3, 8, 64))


# -- the moving-region metric ---------------------------------------------------------------------------

def test_moving_pixels_are_where_the_truth_differs_from_its_first_frame():
    truth = torch.zeros(3, 3, 2, 2)
    truth[1, 0, 0, 0] = MOVING_THRESHOLD + 0.05  # one channel of one pixel moves in frame 1
    truth[2, :, 1, 1] = MOVING_THRESHOLD / 2  # below the threshold: not moving
    mask = moving_mask(truth)
    assert mask.shape == (3, 1, 2, 2) and mask.sum() == 1 and mask[1, 0, 0, 0]
    assert float(moving_share(truth)) == pytest.approx(1 / 8)


def test_moving_psnr_pools_the_error_over_the_moving_pixels_only():
    truth = torch.zeros(1, 3, 3, 2, 2)
    truth[0, 1, :, 0, 0] = 0.5
    truth[0, 2, :, 0, 1] = 0.5
    pred = truth.clone()
    pred[0, 1, :, 0, 0] = 0.4  # error 0.1 on the 3 channels of moving pixel 1
    pred[0, 2, :, 1, 1] = 0.9  # a large error on a static pixel: not counted
    mse = (3 * 0.1 ** 2 + 3 * 0) / 6
    assert float(moving_psnr(pred, truth)) == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)
    assert torch.isnan(moving_psnr(pred, torch.zeros_like(truth))).all()  # nothing moves


def test_copy_baseline_scores_copying_frame_zero():
    truth = torch.rand(5, 3, 8, 8)
    copy = truth[:1].expand_as(truth)
    expected = 10 * torch.log10(1 / (copy[1:] - truth[1:]).pow(2).mean(dim=(1, 2, 3))).mean()
    baseline = copy_baseline(truth)
    assert baseline["psnr"] == pytest.approx(float(expected), rel=1e-5)
    assert baseline["moving_psnr"] == pytest.approx(float(moving_psnr(copy, truth)), rel=1e-6)
    assert baseline["moving_share"] == pytest.approx(float(moving_share(truth)))
    assert baseline["vacated_psnr"] == pytest.approx(float(vacated_psnr(copy, truth)), rel=1e-6)
    assert baseline["silhouette_iou"] == pytest.approx(float(silhouette_iou(copy, truth)), rel=1e-6)


# -- the vacated region, the silhouette, the de-dithered mode ----------------------------------------

def test_temporal_median_takes_the_lower_middle_value_for_an_even_count():
    video = torch.tensor([0.3, 0.1, 0.9, 0.2]).view(4, 1, 1, 1)
    assert float(temporal_median(video)) == pytest.approx(0.2)  # sorted 0.1, 0.2, 0.3, 0.9
    assert float(temporal_median(video[:3])) == pytest.approx(0.3)  # 0.1, 0.3, 0.9
    assert temporal_median(torch.rand(2, 5, 3, 4, 6)).shape == (2, 3, 4, 6)


def _two_frame_studio():
    """A 1x4 studio at 0.8 and two frames: frame 0 has the dancer (0.2) on pixels 0, 2 and 3; in frame 1
    pixel 0 is studio again (vacated), pixel 1 has the dancer (not vacated: frame 0 was studio there),
    pixel 2 keeps the dancer and pixel 3 is 0.06 off the studio in one channel (not within 0.05)."""
    background = torch.full((3, 1, 4), 0.8)
    truth = torch.full((2, 3, 1, 4), 0.8)
    truth[0, :, 0, [0, 2, 3]] = 0.2
    truth[1, :, 0, [1, 2]] = 0.2
    truth[1, 1, 0, 3] = 0.86
    return truth, background


def test_vacated_pixels_are_studio_now_where_frame_zero_had_the_dancer():
    truth, background = _two_frame_studio()
    mask = vacated_mask(truth, background)
    assert mask.shape == (2, 1, 1, 4)
    assert mask[0].sum() == 0  # frame 0 is never vacated
    assert mask[1, 0, 0].tolist() == [True, False, False, False]


def test_vacated_psnr_pools_the_error_of_the_vacated_pixels():
    truth, background = _two_frame_studio()
    pred = truth.clone()
    pred[1, 0, 0, 0] = 0.7  # 0.1 off in one of the 3 channels of the vacated pixel
    pred[1, :, 0, 1:] = 0.0  # large errors elsewhere: not counted
    assert float(vacated_psnr(pred, truth, background)) == pytest.approx(10 * math.log10(3 / 0.1 ** 2), rel=1e-5)
    # the copy of frame 0 keeps the dancer (0.2) there: an error of 0.6 in every channel
    copy = truth[:1].expand_as(truth)
    assert float(vacated_psnr(copy, truth, background)) == pytest.approx(10 * math.log10(1 / 0.6 ** 2), rel=1e-5)
    assert torch.isnan(vacated_psnr(truth, truth, torch.full((3, 1, 4), 0.5)))  # no pixel shows this studio


def test_vacated_psnr_takes_the_temporal_median_as_background_by_default():
    truth, background = _two_frame_studio()
    video = torch.cat([truth, background.expand(3, -1, -1, -1)])  # three studio frames: the median is the studio
    torch.testing.assert_close(vacated_mask(video), vacated_mask(video, background))
    batch = torch.stack([video, video])
    assert vacated_psnr(batch, batch).shape == (2,)


def test_the_dancer_is_what_is_darker_than_the_studio_in_luminance():
    studio = torch.ones(3, 1, 4)
    frame = torch.ones(3, 1, 4)
    frame[:, 0, 0] = torch.tensor([1.0, 0.0, 1.0])  # magenta: luminance 0.413, far darker
    frame[:, 0, 1] = 0.9  # 0.1 darker: not the dancer
    frame[:, 0, 2] = torch.tensor([1.0, 1.0, 0.0])  # yellow: 0.886, 0.114 darker: not the dancer
    frame[:, 0, 3] = 0.85  # 0.15 darker
    assert luminance(frame)[0].tolist() == pytest.approx([0.413, 0.9, 0.886, 0.85])
    assert dancer_mask(frame, studio)[0].tolist() == [True, False, False, True]


def test_silhouette_iou_averages_the_frames_and_skips_those_without_a_dancer():
    truth = torch.ones(4, 3, 1, 4)  # a white studio (the median: at most one dark frame per pixel)
    pred = torch.ones(4, 3, 1, 4)
    truth[0, :, 0, 3] = 0.3  # frame 0 is not scored
    truth[1, :, 0, [0, 1]] = 0.3
    pred[1, :, 0, [1, 2]] = 0.3  # frame 1: IoU 1/3
    # frame 2: no dancer in either: skipped
    truth[3, :, 0, 2] = 0.3  # frame 3: a dancer not predicted: IoU 0
    assert float(silhouette_iou(pred, truth)) == pytest.approx((1 / 3 + 0) / 2)
    assert float(silhouette_iou(truth, truth)) == pytest.approx(1.0)
    assert torch.isnan(silhouette_iou(torch.ones(3, 3, 2, 2), torch.ones(3, 3, 2, 2)))  # nothing anywhere


def test_box_blur_means_three_by_three_with_replicate_padding():
    ramp = torch.tensor([[[0.0, 3.0, 6.0]]])  # (1, 1, 3): the row repeats above and below
    # left edge: (0 + 0 + 3) / 3; right edge: (3 + 6 + 6) / 3
    assert box_blur(ramp)[0, 0].tolist() == pytest.approx([1.0, 3.0, 5.0])
    spike = torch.zeros(2, 1, 3, 3)
    spike[:, :, 1, 1] = 9.0
    torch.testing.assert_close(box_blur(spike), torch.ones(2, 1, 3, 3))  # every window, corners too, holds it once
    corner = torch.zeros(1, 3, 3)
    corner[0, 0, 0] = 9.0  # counted 4 times by the corner's padded window, twice by its edge neighbours
    torch.testing.assert_close(box_blur(corner)[0], torch.tensor([[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]))


def test_dedithered_metrics_see_through_a_checkerboard_dither():
    truth = torch.full((2, 3, 4, 6), 0.5)
    sign = (torch.arange(4).view(4, 1) + torch.arange(6).view(1, 6)) % 2 * 2 - 1
    pred = truth + 0.1 * sign  # a +-0.1 dither: 20 dB raw
    assert float(psnr_per_frame(pred, truth)[0]) == pytest.approx(20.0, rel=1e-5)
    # every 3x3 window, padded or not, holds one sign once more than the other: a residue of 0.1 / 9
    blurred = dedithered(psnr_per_frame)(pred, truth)
    torch.testing.assert_close(blurred, torch.full((2,), 20 * math.log10(90)))
    torch.testing.assert_close(blurred, psnr_per_frame(box_blur(pred), box_blur(truth)))
    video, other = torch.rand(3, 3, 4, 6), torch.rand(3, 3, 4, 6)
    assert float(dedithered(vacated_psnr)(other, video)) == pytest.approx(
        float(vacated_psnr(box_blur(other), box_blur(video))), nan_ok=True)
