"""Training-clip augmentation: shifts, zooms and clip-grid offsets, deterministic per (seed, epoch, clip)."""
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


@pytest.mark.parametrize("zoom", [2.0, 1.25, 0.8, 0.5])
def test_zoom_magnifies_about_the_centre_and_repeats_the_edges(zoom):
    """On a ramp (exact under bilinear sampling): output column j shows input column c + (j - c) / zoom,
    c the centre, clamped to the frame where a shrunk clip leaves a border."""
    width = 8
    ramp = torch.arange(width, dtype=torch.float32).expand(2, 3, 4, width)
    frames, labels = aug.zoom_clip(ramp, ramp.flip(-1), zoom)
    centre = (width - 1) / 2
    expected = (centre + (torch.arange(width) - centre) / zoom).clamp(0, width - 1)
    assert torch.allclose(frames, expected.expand_as(ramp), atol=1e-5)
    assert torch.allclose(labels, frames.flip(-1), atol=1e-5)  # labels moved by the same zoom
    assert aug.zoom_clip(ramp, ramp, 1)[0] is ramp


def test_scaled_clips_are_zoomed_within_the_limit_and_repeatable(make_tiny_dataset):
    root = make_tiny_dataset()
    plain = Dataset_Dance(root, "train", video_len=8)
    scaled = Dataset_Dance(root, "train", video_len=8, augment=["scale"])
    frames, labels = plain[0]
    zooms = set()
    for epoch in range(6):
        scaled.set_epoch(epoch)
        got_frames, got_labels = scaled[0]
        # the zoom that best explains the labels (searched on a grid) explains the frames too
        grid = torch.linspace(1 / aug.MAX_ZOOM, aug.MAX_ZOOM, 2001).tolist()
        error, zoom = min(((aug.zoom_clip(labels[:1], labels[:1], z)[0] - got_labels[:1]).abs().max().item(), z)
                          for z in grid)
        assert error < 1e-2, f"epoch {epoch}: labels not a zoom within {aug.MAX_ZOOM}x of the plain clip's"
        assert torch.allclose(aug.zoom_clip(frames, labels, zoom)[0], got_frames, atol=1e-2)
        zooms.add(round(zoom, 2))
    assert len(zooms) > 1
    scaled.set_epoch(3)
    again = Dataset_Dance(root, "train", video_len=8, augment=["scale"])
    again.set_epoch(3)
    assert torch.equal(scaled[0][0], again[0][0])
