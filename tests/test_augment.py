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


@pytest.mark.parametrize("zoom, centre_x", [(2.0, 0.0), (1.25, 0.5), (2.0, -1.0), (0.5, 0.0)])
def test_zoom_magnifies_about_its_centre_and_repeats_the_edges(zoom, centre_x):
    """On a ramp (exact under bilinear sampling): output column j shows input column c + (j - c) / zoom,
    c the fixed point in pixels, clamped to the frame where a shrunk clip leaves a border."""
    width = 8
    ramp = torch.arange(width, dtype=torch.float32).expand(2, 3, 4, width)
    frames, labels = aug.zoom_clip(ramp, 2 * ramp, zoom, centre=(0.0, centre_x))
    fixed = (centre_x + 1) * width / 2 - 0.5  # grid_sample's x in pixel centres (align_corners=False)
    expected = (fixed + (torch.arange(width) - fixed) / zoom).clamp(0, width - 1)
    assert torch.allclose(frames, expected.expand_as(ramp), atol=1e-5)
    assert torch.allclose(labels, 2 * frames, atol=1e-5)  # the labels moved by the same zoom
    assert aug.zoom_clip(ramp, ramp, 1)[0] is ramp


def test_scale_zooms_some_clips_in_within_the_limit_and_leaves_the_rest(make_tiny_dataset):
    root = make_tiny_dataset()
    plain = Dataset_Dance(root, "train", video_len=8)
    scaled = Dataset_Dance(root, "train", video_len=8, augment=["scale"])
    frames, labels = plain[0]
    untouched, zooms = 0, []
    for epoch in range(12):
        scaled.set_epoch(epoch)
        got_frames, got_labels = scaled[0]
        if torch.equal(got_frames, frames) and torch.equal(got_labels, labels):
            untouched += 1
            continue
        # the zoom and centre that best explain the labels (searched on a grid) explain the frames too
        grid = [(z, (cy, cx)) for z in torch.linspace(1, aug.MAX_ZOOM, 41).tolist()
                for cy in torch.linspace(-aug.ZOOM_CENTRE, aug.ZOOM_CENTRE, 11).tolist()
                for cx in torch.linspace(-aug.ZOOM_CENTRE, aug.ZOOM_CENTRE, 11).tolist()]
        def mismatch(zoom, centre):
            return (aug.zoom_clip(labels[:1], labels[:1], zoom, centre)[0] - got_labels[:1]).abs().mean().item()
        error, zoom, centre = min((mismatch(z, c), z, c) for z, c in grid)
        assert error < 0.01, f"epoch {epoch}: labels not a zoom in by at most {aug.MAX_ZOOM}x"
        assert (aug.zoom_clip(frames, labels, zoom, centre)[0] - got_frames).abs().mean() < 0.01
        zooms.append(zoom)
    assert untouched and zooms, (untouched, zooms)  # ZOOM_SHARE of the clips, not all or none
    assert max(zooms) > 1.1
    scaled.set_epoch(3)
    again = Dataset_Dance(root, "train", video_len=8, augment=["scale"])
    again.set_epoch(3)
    assert torch.equal(scaled[0][0], again[0][0])
