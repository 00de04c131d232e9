"""bench/dancer_traits.py on hand-built videos: dark rectangles on a grey studio at known places, so every
trait (centre, height, area, edge cut) and flag (almost out, crouch, profile) has an exact expected value."""
import json

import numpy as np
import pytest
from PIL import Image

from bench import dancer_traits as traits
from modules.config import FRAME_H, FRAME_W
from modules.data.dance_video import JOINT_COLOURS, L_HIP, L_SHOULDER, R_ELBOW, R_SHOULDER

# A luminance drop of 80/255 = 0.31: after the 3x3 de-dither blur a pixel beside the rectangle drops by
# a third of it (0.10, under metrics.DANCER_DARKER = 0.12) and its corner pixel by 4/9 (0.14, over), so
# the silhouette is exactly the rectangle.
GREY, DARK = 180, 100


def box_mask(boxes, h=FRAME_H, w=FRAME_W):
    """(T, h, w) bool: frame t holds the rectangle boxes[t] = (top, bottom, left, right), half-open, or
    nothing where it is None."""
    mask = np.zeros((len(boxes), h, w), dtype=bool)
    for t, box in enumerate(boxes):
        if box is not None:
            top, bottom, left, right = box
            mask[t, top:bottom, left:right] = True
    return mask


def box_video(boxes, grey=GREY):
    """uint8 (T, 3, FRAME_H, FRAME_W): a ``grey`` studio with a DARK rectangle per frame (:func:`box_mask`)."""
    frames = np.full((len(boxes), 3, FRAME_H, FRAME_W), grey, dtype=np.uint8)
    frames[np.broadcast_to(box_mask(boxes)[:, None], frames.shape)] = DARK
    return frames


def silhouettes_of(videos, mode="per_video"):
    """The silhouettes (T, H, W) of each of ``videos`` with their studios estimated as the CLI does."""
    blurred = [traits.to_float(v.frames) for v in videos]
    return [traits.silhouettes(b, s).numpy() for b, s in zip(blurred, traits.studios(videos, blurred, mode))]


# Ten frames of a walk: six standing (24 of 32 rows, 6 columns) across the stage, then a small patch cut
# by the left edge (almost out), an empty frame, a crouch (16 rows) and a frame just above the crouch
# threshold (20 rows; the reference height is 24 rows, 80% of it 19.2).
WALK = [(4, 28, x, x + 6) for x in (2, 12, 22, 32, 42, 52)] + [(20, 28, 0, 4), None, (12, 28, 30, 36),
                                                                 (8, 28, 40, 46)]


def test_frame_traits_of_rectangles():
    mask = box_mask([(4, 28, 10, 16), (0, 32, 0, 5), (2, 10, 60, 64), (2, 10, 1, 5), None])
    t = traits.frame_traits(mask)
    np.testing.assert_allclose(t["centre"][:4], [13 / 64, 2.5 / 64, 62 / 64, 3 / 64])
    np.testing.assert_allclose(t["height"][:4], [24 / 32, 1.0, 8 / 32, 8 / 32])
    np.testing.assert_allclose(t["area"], [144 / 2048, 160 / 2048, 32 / 2048, 32 / 2048, 0])
    assert t["cut"].tolist() == [False, True, True, False, False]  # column 1 is not the edge
    assert np.isnan(t["centre"][4]) and np.isnan(t["height"][4])


def test_the_silhouette_of_a_dark_rectangle_on_grey_is_the_rectangle():
    video = traits.unlabelled("walk", box_video(WALK))
    np.testing.assert_array_equal(silhouettes_of([video])[0], box_mask(WALK))


def test_flags_of_the_walk():
    video = traits.unlabelled("walk", box_video(WALK))
    measured = traits.measure(video, traits.to_float(video.frames), traits.studios([video], [traits.to_float(
        video.frames)], "per_video")[0])
    # median area: 144 pixels (six standing frames of ten); the patch has 32 < 144 / 4
    assert np.flatnonzero(measured["almost_out"]).tolist() == [6, 7]
    # reference height 24 rows: the patch (8 rows) and the crouch (16) are under 19.2, 20 rows is not
    assert np.flatnonzero(measured["crouch"]).tolist() == [6, 8]
    assert np.flatnonzero(measured["cut"]).tolist() == [6]
    np.testing.assert_allclose(measured["centre"][[0, 6, 8]], [5 / 64, 2 / 64, 33 / 64])
    assert np.isnan(measured["profile"]).all()


def test_specks_are_dropped_components_kept():
    mask = np.zeros((1, 8, 12), dtype=bool)
    mask[0, 1:4, 1:4] = True  # 9 pixels
    mask[0, 6, 1] = mask[0, 7, 2] = True  # 2 pixels, touching diagonally: one component
    mask[0, 5:7, 8:10] = True  # 4 pixels
    kept = traits.drop_specks(traits.torch.from_numpy(mask), 4).numpy()
    expected = mask.copy()
    expected[0, 6, 1] = expected[0, 7, 2] = False
    np.testing.assert_array_equal(kept, expected)
    assert traits.drop_specks(traits.torch.from_numpy(mask), 3).numpy().sum() == 13  # a 3x3 block and a 2x2
    assert traits.drop_specks(traits.torch.from_numpy(mask), 2).numpy().sum() == 15


def test_a_dancer_who_never_moves_is_found_through_his_pose_label():
    boxes = [(4, 28, 28, 34)] * 10
    frames = box_video(boxes)
    # without labels the studio is the temporal median, which holds the dancer: no silhouette at all
    assert not silhouettes_of([traits.unlabelled("still", frames)])[0].any()
    # with his skeleton (a line down his middle) the studio behind him comes from the row beside him
    skeletons = box_mask([(6, 26, 30, 32)] * 10)
    video = traits.Video("still", frames, np.full(10, np.nan), skeletons)
    np.testing.assert_array_equal(silhouettes_of([video])[0], box_mask(boxes))


def test_a_shared_studio_shows_a_dancer_who_never_moves_in_his_own_video():
    still = traits.unlabelled("still", box_video([(4, 28, 28, 34)] * 6))
    empty = traits.unlabelled("empty", box_video([None] * 8))
    assert not silhouettes_of([still, empty])[0].any()
    np.testing.assert_array_equal(silhouettes_of([still, empty], "shared")[0], box_mask([(4, 28, 28, 34)] * 6))


def dot(label, x, y, colour):
    """A 3x3 keypoint dot centred at (x, y)."""
    label[y - 1:y + 2, x - 1:x + 2] = colour


def test_shoulder_distance_with_palette_error_and_its_neighbour_colours():
    label = np.full((40, 80, 3), 255, dtype=np.uint8)
    off = np.array([-20, 25, 30])  # a palette's error, within POSE_TOLERANCE
    dot(label, 20, 10, np.clip(np.array(JOINT_COLOURS[R_SHOULDER]) + off, 0, 255))
    dot(label, 50, 10, JOINT_COLOURS[L_SHOULDER])
    dot(label, 5, 10, JOINT_COLOURS[R_ELBOW])  # (255, 170, 0): 85 from the right shoulder's green
    dot(label, 30, 30, JOINT_COLOURS[L_HIP])
    shoulders, skeletons = traits.read_labels([label])
    assert shoulders[0] == pytest.approx(30.0)
    assert skeletons.shape == (1, FRAME_H, FRAME_W) and skeletons.sum() > 0
    one = label.copy()
    dot(one, 50, 10, (255, 255, 255))
    assert traits.read_labels([one])[0][0] == 0.0  # one shoulder hides the other: a profile
    no_hip = label.copy()
    dot(no_hip, 30, 30, (255, 255, 255))
    assert np.isnan(traits.read_labels([no_hip])[0][0])  # no torso: not found


def test_profile_flag_and_its_n_a():
    walk = traits.frame_traits(box_mask(WALK[:6] * 2))
    shoulders = np.array([10.0] * 10 + [3.0, np.nan])
    flags = traits.video_flags(walk, shoulders)
    assert np.flatnonzero(flags["profile"] == 1).tolist() == [10] and np.isnan(flags["profile"][11])
    row = traits.summary({**walk, **flags})
    assert row["profile"] == pytest.approx(100 / 11) and row["pose_found"] == pytest.approx(1100 / 12)
    unposed = traits.summary({**walk, **traits.video_flags(walk, np.full(12, np.nan))})
    assert unposed["profile"] is None
    assert "| n/a (0) |" in traits.format_row("x", unposed)


def write_gif(frames, path):
    """(T, 3, H, W) uint8 frames as a GIF of 20 ms frames."""
    images = [Image.fromarray(f.transpose(1, 2, 0)) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=20, loop=0)


def write_frames(frames, folder, start=0):
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        Image.fromarray(f.transpose(1, 2, 0)).save(folder / f"frame{start + i}.png")


def table_rows(text):
    """{first cell: cells} of a markdown table."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.strip().splitlines()[2:]]
    return {r[0]: r for r in rows}


def test_cli_on_course_gifs_and_a_lab4_folder(tmp_path, capsys):
    gifs = tmp_path / "gifs" / "seq0"
    gifs.mkdir(parents=True)
    write_gif(box_video(WALK), gifs / "ground_truth.gif")
    blank = np.full((10, 3, FRAME_H, FRAME_W), 255, dtype=np.uint8)
    blank[:, :, 0, 0] = 0  # not one frame repeated: GIF writers would merge them
    blank[1::2, :, 0, 0] = 128
    write_gif(blank, gifs / "pose.gif")  # make_gif's: the labels of frames 1..9, the first written twice
    root = tmp_path / "lab4"
    walk = box_video(WALK)
    write_frames(np.concatenate([walk, walk[::-1]]), root / "train/train_img")
    (root / ".lab4_synthetic.json").write_text(json.dumps({"train_video_len": 10}))
    write_frames(walk, root / "val/val_img")
    write_frames(walk, root / "test/test_img_gt/0")
    traits.main(["--gif_root", str(tmp_path / "gifs"), "--synthetic", str(root)])
    rows = table_rows(capsys.readouterr().out)
    assert list(rows) == ["seq0", "**real, all**", "syn train0", "syn train1", "syn val", "syn test0",
                          "**synthetic, all**"]
    # the nine centres: 5, 15, 25, 35, 45, 55 (standing), 2 (patch), 33 (crouch), 43 (20 rows) / 64;
    # one frame in ten cut, two almost out, two crouched; pose.gif aligned but without keypoints
    assert rows["seq0"] == ["seq0", "10", "0.05-0.80", "0.03-0.86", "10.0", "20.0", "20.0", "n/a (0)", "0.75",
                            "7.0"]
    assert rows["syn train1"] == ["syn train1", *rows["seq0"][1:]]  # the walk backwards
    assert rows["**synthetic, all**"][1:5] == ["40", "0.03-0.86", "0.03-0.86", "10.0"]  # 4 patches in 36


def test_without_a_marker_train_videos_are_cut_at_scene_changes(tmp_path):
    root = tmp_path / "lab4"
    still = [(4, 28, 28, 34)] * 10  # no change inside a video: the studio's change is a cut
    write_frames(np.concatenate([box_video(still), box_video(still, grey=220)]), root / "train/train_img")
    write_frames(box_video(WALK), root / "val/val_img")
    videos = traits.dataset_videos(root)
    assert [(v.name, len(v.frames)) for v in videos] == [("syn train0", 10), ("syn train1", 10), ("syn val", 10)]


def test_the_cli_needs_a_source(capsys):
    with pytest.raises(SystemExit) as exit_:
        traits.main([])
    assert exit_.value.code == 2 and "--gif_root" in capsys.readouterr().err
