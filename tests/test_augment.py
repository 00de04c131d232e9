"""Training-clip augmentation: hue swaps, the side swap read from labels, flips, shifts, clip offsets."""
import colorsys

import numpy as np
import pytest
import torch

from dataloader import Dataset_Dance
from modules.data import augment as aug
from modules.data.dance_video import JOINT_COLOURS

# OpenPose's mirror pairs of keypoints (right, left): their limb colours must swap in a mirror image.
MIRROR_JOINTS = ((2, 5), (3, 6), (4, 7), (9, 12), (10, 13), (11, 14), (15, 16), (17, 18))


def rgb(*colours):
    """A (1, 3, 1, len) float image of 0..255 colours."""
    return torch.tensor(colours, dtype=torch.float32).T.reshape(1, 3, 1, -1) / 255


def hue_bin_of(colour):
    return round(colorsys.rgb_to_hsv(*(c / 255 for c in colour))[0] * aug.HUE_BINS) % aug.HUE_BINS


def test_hue_and_chroma_round_trip_through_hsv_to_rgb():
    image = torch.rand(2, 3, 5, 7)
    hue, chroma = aug.hue_and_chroma(image)
    expected = [colorsys.rgb_to_hsv(*image[0, :, 1, 2].tolist())]
    assert hue[0, 1, 2].item() == pytest.approx(expected[0][0], abs=1e-5)
    assert torch.allclose(aug.hsv_to_rgb(hue, chroma, image.max(-3).values), image, atol=1e-5)


def test_swap_hues_recolours_openpose_limbs_and_keeps_white_and_blends():
    swap = list(range(aug.HUE_BINS))
    swap[2], swap[5] = 5, 2  # 40 <-> 100 degrees: the right elbow's colour <-> the left elbow's
    right, left = JOINT_COLOURS[3], JOINT_COLOURS[6]
    pastel = tuple(c + 0.5 * (255 - c) for c in right)  # the limb half blended into the white background
    out = aug.swap_hues(rgb(right, left, (255, 255, 255), (128, 128, 128), pastel), swap)
    expected = rgb(left, right, (255, 255, 255), (128, 128, 128), tuple(c + 0.5 * (255 - c) for c in left))
    assert torch.allclose(out, expected, atol=1e-5)


def test_the_identity_swap_changes_nothing():
    labels = torch.rand(3, 3, 8, 8)
    assert torch.allclose(aug.swap_hues(labels, list(range(aug.HUE_BINS))), labels, atol=1e-5)


def test_the_side_swap_read_from_synthetic_labels_pairs_openpose_left_and_right(make_tiny_dataset):
    root = make_tiny_dataset(n_train_videos=3, train_video_len=120)
    labels = Dataset_Dance(root, "train", video_len=8, cache=False).labels
    swap = aug.estimate_side_swap(labels)
    assert all(swap[swap[b]] == b for b in range(aug.HUE_BINS))  # an involution
    true_pairs = {frozenset((hue_bin_of(JOINT_COLOURS[r]), hue_bin_of(JOINT_COLOURS[l]))) for r, l in MIRROR_JOINTS}
    found = {frozenset((b, s)) for b, s in enumerate(swap) if s != b}
    assert found <= true_pairs, f"pairs that are not mirror images: {found - true_pairs}"
    arms_and_legs = {frozenset((hue_bin_of(JOINT_COLOURS[r]), hue_bin_of(JOINT_COLOURS[l])))
                     for r, l in ((3, 6), (4, 7), (10, 13), (11, 14))}
    assert arms_and_legs <= found


def test_labels_without_side_colours_keep_their_colours():
    """A symmetric figure (one colour on both sides) gives no reason to swap anything."""
    labels = torch.ones(4, 3, 16, 16)
    labels[:, :, 4:12, 3] = rgb(JOINT_COLOURS[3]).reshape(3, 1)
    labels[:, :, 4:12, 12] = rgb(JOINT_COLOURS[3]).reshape(3, 1)
    assert aug.estimate_side_swap(labels) == list(range(aug.HUE_BINS))


def test_flipping_twice_gives_the_clip_back():
    frames, labels = torch.rand(4, 3, 8, 16), torch.rand(4, 3, 8, 16)
    swap = list(range(aug.HUE_BINS))
    swap[3], swap[6] = 6, 3
    once = aug.flip_clip(frames, labels, swap)
    assert torch.equal(once[0], frames.flip(-1))
    twice = aug.flip_clip(*once, swap)
    assert torch.equal(twice[0], frames) and torch.allclose(twice[1], labels, atol=1e-5)


def test_shift_moves_frames_and_labels_together_and_repeats_the_edges():
    frames = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    moved, moved_labels = aug.shift_clip(frames, frames + 1, 1, -2)
    assert torch.equal(moved[..., 1:, :4], frames[..., :3, 2:])  # down 1, left 2
    assert torch.equal(moved[..., 0, :], moved[..., 1, :])  # the top row repeated
    assert torch.equal(moved[..., :, 4], moved[..., :, 5])  # the right column repeated
    assert torch.equal(moved_labels, moved + 1)


def test_check_augments_refuses_unknown_names_and_none_with_others():
    assert aug.check_augments(["none"]) == ()
    assert aug.check_augments(["flip", "shift"]) == ("flip", "shift")
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        aug.check_augments(["rotate"])
    with pytest.raises(ValueError, match="cannot be combined with flip"):
        aug.check_augments(["none", "flip"])


def test_offset_moves_the_clip_grid_per_epoch_and_is_repeatable(make_tiny_dataset):
    root = make_tiny_dataset()
    plain = Dataset_Dance(root, "train", video_len=8)
    shifted = Dataset_Dance(root, "train", video_len=8, augment=["offset"])
    assert len(shifted) == (plain.n_frames - 7) // 8
    offsets = []
    for epoch in range(6):
        shifted.set_epoch(epoch)
        offset = shifted.grid_offset()
        assert 0 <= offset < 8
        assert torch.equal(shifted[1][0], plain.images[offset + 8:offset + 16].float() / 255)
        offsets.append(offset)
    assert len(set(offsets)) > 1
    shifted.set_epoch(2)
    assert shifted.grid_offset() == offsets[2]


def test_augmented_clips_are_flipped_or_shifted_copies_of_the_clip(make_tiny_dataset):
    root = make_tiny_dataset()
    plain = Dataset_Dance(root, "train", video_len=8)
    flipped = Dataset_Dance(root, "train", video_len=8, augment=["flip"])
    seen = set()
    for epoch in range(8):
        flipped.set_epoch(epoch)
        frames, _ = flipped[0]
        seen.add(torch.equal(frames, plain[0][0].flip(-1)) and "flipped" or
                 torch.equal(frames, plain[0][0]) and "kept")
    assert seen == {"flipped", "kept"}
    shifted = Dataset_Dance(root, "train", video_len=8, augment=["shift"])
    frames, labels = shifted[0]
    assert frames.shape == labels.shape == plain[0][0].shape
    assert not np.isnan(frames.numpy()).any()
