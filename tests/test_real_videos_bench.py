"""bench/real_videos.py's per-segment table on hand-built videos: a dark rectangle on a grey studio."""
import numpy as np

from bench import real_videos


def studio_with_dancer(frames, size=8):
    """(1, frames, 3, 32, 64) uint8: grey, a black ``size`` x ``size`` square moving 2 px right a frame
    (so the temporal median, the metrics' background, is the grey studio)."""
    video = np.full((1, frames, 3, 32, 64), 180, dtype=np.uint8)
    for t in range(frames):
        video[:, t, :, 12:12 + size, 2 + 2 * t:2 + 2 * t + size] = 0
    return video


def test_segments_score_each_stretch_of_frames_on_its_own():
    truth = studio_with_dancer(21)
    half = truth.copy()
    half[:, 11:] = 180  # the dancer drawn in frames 1-10 only
    lines = real_videos.segment_table({"half": half, "perfect": truth}, truth, size=10, last=20)
    assert lines[0] == "| frames | truth's dancer (px) | half: IoU (px) | perfect: IoU (px) |"
    # an 8 x 8 square, give or take the edge the 3x3 de-dither blur makes fuzzy
    first, second = (line.split(" | ") for line in lines[2:])
    assert first[0] == "| 1-10" and second[0] == "| 11-20"
    assert first[1] == second[1] and 36 <= int(first[1]) <= 100
    assert first[2] == f"1.000 ({first[1]})" and second[2] == "0.000 (0)"
    assert first[3] == second[3] == f"1.000 ({first[1]}) |"
    assert len(lines) == 4
