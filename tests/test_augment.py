"""Training-clip augmentation: shifts and clip-grid offsets, deterministic per (seed, epoch, clip)."""
import pytest
import torch

from dataloader import Dataset_Dance
from modules.data import augment as aug


def test_shift_moves_frames_and_labels_together_and_repeats_the_edges():
    frames = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    moved, moved_labels = aug.shift_clip(frames, frames + 1, 1, -2)
    assert torch.equal(moved[..., 1:, :4], frames[..., :3, 2:])  # down 1, left 2
    assert torch.equal(moved[..., 0, :], moved[..., 1, :])  # the top row repeated
    assert torch.equal(moved[..., :, 4], moved[..., :, 5])  # the right column repeated
    assert torch.equal(moved_labels, moved + 1)
    assert aug.shift_clip(frames, frames, 0, 0)[0] is frames


def test_check_augments_refuses_unknown_names_and_none_with_others():
    assert aug.check_augments(["none"]) == ()
    assert aug.check_augments(["offset", "shift"]) == ("offset", "shift")
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        aug.check_augments(["flip"])
    with pytest.raises(ValueError, match="cannot be combined with shift"):
        aug.check_augments(["none", "shift"])


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


def test_shifted_clips_are_the_clip_moved_by_at_most_a_sixteenth(make_tiny_dataset):
    root = make_tiny_dataset()
    plain = Dataset_Dance(root, "train", video_len=8)
    shifted = Dataset_Dance(root, "train", video_len=8, augment=["shift"])
    frames, labels = plain[0]
    h, w = frames.shape[-2:]
    limits = int(h * aug.SHIFT_FRACTION), int(w * aug.SHIFT_FRACTION)
    moves = set()
    for epoch in range(8):
        shifted.set_epoch(epoch)
        got_frames, got_labels = shifted[0]
        match = [(dy, dx) for dy in range(-limits[0], limits[0] + 1) for dx in range(-limits[1], limits[1] + 1)
                 if torch.equal(got_frames, aug.shift_clip(frames, labels, dy, dx)[0])
                 and torch.equal(got_labels, aug.shift_clip(frames, labels, dy, dx)[1])]
        assert match, f"epoch {epoch}: not a shift of the clip within {limits}"
        moves.add(match[0])
    assert len(moves) > 1


def test_nearer_magnifies_the_dancer_about_his_centre_on_the_empty_studio():
    studio = torch.full((3, 16, 32), 0.8)
    frames = studio.expand(3, 3, 16, 32).clone()
    frames[:, :, 6:10, 10:14] = 0.1  # a 4 x 4 dancer centred at (8, 12) in pixel edges
    labels = torch.ones_like(frames)
    labels[:, :, 7:9, 11:13] = 0.0  # his pose, inside him
    moved, moved_labels = aug.dancer_nearer(frames, labels, studio, 2.0)
    assert torch.equal(moved[0], frames[0]) and torch.equal(moved_labels[0], labels[0])  # the anchor stays
    dark = moved[1:, 0] < 0.45
    assert dark[:, 4:12, 8:16].all() and dark.sum() == 2 * 8 * 8  # 4 x 4 -> 8 x 8 about its centre
    assert torch.allclose(moved[1:, :, :3], studio[:, :3].expand(2, 3, 3, 32))  # the rest: the studio
    assert (moved_labels[1:, 0] < 0.5).sum() == 2 * 4 * 4  # the pose zoomed alike
    empty = studio.expand(2, 3, 16, 32).clone()
    assert aug.dancer_nearer(empty, empty, studio, 2.0)[0] is empty  # no dancer: nothing to move


def test_nearer_changes_some_clips_after_their_anchor_and_is_repeatable(make_tiny_dataset):
    root = make_tiny_dataset()
    plain = Dataset_Dance(root, "train", video_len=8)
    nearer = Dataset_Dance(root, "train", video_len=8, augment=["nearer"])
    changed = 0
    for epoch in range(8):
        nearer.set_epoch(epoch)
        frames, labels = nearer[0]
        assert torch.equal(frames[0], plain[0][0][0])
        changed += not torch.equal(frames, plain[0][0])
    assert 0 < changed < 8
    again = Dataset_Dance(root, "train", video_len=8, augment=["nearer"])
    again.set_epoch(7)
    assert torch.equal(again[0][0], nearer[0][0])


def test_the_empty_studio_drops_a_dancer_who_stood_somewhere_a_fifth_of_the_time():
    from dataloader import empty_studio
    frames = torch.full((2500, 3, 4, 8), 200, dtype=torch.uint8)
    frames[:500, :, 1:3, 2:4] = 10  # the dancer's place for the first 500 frames
    studio = empty_studio(frames)
    assert studio.shape == (3, 4, 8) and torch.allclose(studio, torch.full_like(studio, 200 / 255))
    tall = torch.full((700, 3, 160, 256), 200, dtype=torch.uint8)  # 86M values: read every 6th frame
    assert torch.allclose(empty_studio(tall), torch.full((3, 160, 256), 200 / 255))
