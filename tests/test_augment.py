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
