"""dataloader.py: clip semantics, shapes and values, numeric order, the frame cache, and bad input."""

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import dataloader
from conftest import DATA_TEST_SPLITS
from dataloader import Dataset_Dance, Dataset_Test, load_test_ground_truth
from modules.errors import UserInputError

REPO = Path(__file__).resolve().parent.parent
SIZE = dict(frame_H=16, frame_W=32)  # smaller than the files: the resize is exercised


@pytest.fixture(scope="module")
def source(make_tiny_dataset):
    return make_tiny_dataset(**DATA_TEST_SPLITS)


@pytest.fixture
def root(source, tmp_path, monkeypatch):
    """A private copy of the tiny dataset; the user cache folder redirected into tmp_path."""
    monkeypatch.setattr(dataloader, "USER_CACHE_DIR", tmp_path / "user_cache")
    return Path(shutil.copytree(source, tmp_path / "ds"))


def template_frame(path, frame_h=16, frame_w=32):
    """The course template's transform: PIL open, RGB, bilinear Resize, ToTensor -> float (3, H, W)."""
    image = Image.open(path).convert("RGB").resize((frame_w, frame_h), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


# -- semantics -----------------------------------------------------------------------------------
def test_train_clips_follow_the_template(root):
    ds = Dataset_Dance(root, "train", video_len=8, **SIZE)
    assert len(ds) == 40 // 8
    img, label = ds[1]
    assert img.shape == label.shape == (8, 3, 16, 32)
    assert img.dtype == label.dtype == torch.float32
    assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0 and float(label.max()) == 1.0
    for t in (0, 7):  # clip 1 = frames [8, 16) of the numerically sorted list
        assert torch.equal(img[t], template_frame(root / "train" / "train_img" / f"frame{8 + t}.png"))
        assert torch.equal(label[t], template_frame(root / "train" / "train_label" / f"frame{8 + t}.png"))


def test_partial_keeps_the_first_fraction_of_the_frames(root):
    assert len(Dataset_Dance(root, "train", video_len=8, partial=0.5, **SIZE)) == 20 // 8
    assert len(Dataset_Dance(root, "train", video_len=3, partial=0.3, **SIZE)) == int(40 * 0.3) // 3


def test_validation_is_one_clip_of_the_whole_video(root):
    ds = Dataset_Dance(root, "val", video_len=24, **SIZE)
    assert len(ds) == 1 and ds[0][0].shape == (24, 3, 16, 32)
    with pytest.raises(IndexError):
        ds[1]


def test_video_starts_finds_the_cuts_between_back_to_back_videos():
    g = torch.Generator().manual_seed(0)
    scenes = [torch.randint(0, 256, (3, 8, 8), generator=g, dtype=torch.uint8) for _ in range(3)]
    frames = torch.stack([scene.clamp(2, 253) + (t % 2) for scene in scenes for t in range(6)])
    assert dataloader.video_starts(frames) == [0, 6, 12]
    assert dataloader.video_starts(frames[:6]) == [0]  # one video: no cut however it moves


def test_anchor_gap_replaces_frame_0_by_an_earlier_frame_of_the_same_video(root, monkeypatch):
    monkeypatch.setattr(dataloader, "video_starts", lambda frames: [0, 20])  # two videos of 20 frames
    ds = Dataset_Dance(root, "train", video_len=4, max_anchor_gap=15, seed=2, **SIZE)
    anchors = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        for index in range(len(ds)):
            start = index * 4
            anchor = ds.anchor(index, start)
            assert start - 15 <= anchor <= start and (anchor >= 20) == (start >= 20)
            anchors.add(start - anchor)
            frames = ds[index][0]
            assert torch.equal(frames[0], template_frame(root / "train" / "train_img" / f"frame{anchor}.png"))
            assert torch.equal(frames[1], template_frame(root / "train" / "train_img" / f"frame{start + 1}.png"))
    assert 0 in anchors and max(anchors) > 8
    plain = Dataset_Dance(root, "train", video_len=4, **SIZE)
    assert all(plain.anchor(i, i * 4) == i * 4 for i in range(len(plain)))
    huge = Dataset_Dance(root, "train", video_len=4, max_anchor_gap=10 ** 20, **SIZE)  # capped, not an overflow
    assert all(0 <= huge.anchor(i, i * 4) <= i * 4 for i in range(len(huge)))


def test_frames_sort_numerically(tmp_path):
    for n in (10, 2, 1, 100):
        Image.new("RGB", (4, 4)).save(tmp_path / f"frame{n}.png")
    assert [p.name for p in dataloader.scan_frames(tmp_path)] == [
        "frame1.png", "frame2.png", "frame10.png", "frame100.png"]


def test_test_set_has_one_item_per_video_folder_in_numeric_order(root):
    for v in ("10", "2"):
        shutil.copytree(root / "test" / "test_img" / "1", root / "test" / "test_img" / v)
        shutil.copytree(root / "test" / "test_label" / "1", root / "test" / "test_label" / v)
    os.remove(root / "test" / "test_label" / "10" / "frame9.png")
    ds = Dataset_Test(root, **SIZE)
    assert ds.videos == ["0", "1", "2", "10"] and len(ds) == 4
    first, labels = ds[0]
    assert first.shape == (1, 3, 16, 32) and labels.shape == (10, 3, 16, 32) and first.dtype == torch.float32
    assert torch.equal(first[0], template_frame(root / "test" / "test_img" / "0" / "frame0.png"))
    assert torch.equal(labels[4], template_frame(root / "test" / "test_label" / "0" / "frame4.png"))
    assert ds[3][1].shape[0] == 9


def test_test_ground_truth_starts_with_the_given_first_frame(root):
    gt = load_test_ground_truth(root, **SIZE)
    assert gt.shape == (2, 10, 3, 16, 32) and gt.dtype == torch.float32
    test = Dataset_Test(root, **SIZE)
    for v in range(2):
        assert torch.equal(gt[v, 0], test[v][0][0])
    assert torch.equal(gt[1, 7], template_frame(root / "test" / "test_img_gt" / "1" / "frame7.png"))


# -- the frame cache -----------------------------------------------------------------------------
def test_cached_frames_equal_direct_decoding_and_are_reused(root, monkeypatch):
    direct = Dataset_Dance(root, "train", video_len=8, cache=False, **SIZE)
    assert not (root / dataloader.CACHE_DIR_NAME).exists()
    built = Dataset_Dance(root, "train", video_len=8, **SIZE)
    assert (root / dataloader.CACHE_DIR_NAME / "train_16x32.pt").is_file()
    monkeypatch.setattr(dataloader, "decode_frames", fail_if_called)
    cached = Dataset_Dance(root, "train", video_len=8, **SIZE)
    assert cached.images.dtype == torch.uint8 and cached.images.shape == (40, 3, 16, 32)
    for ds in (built, cached):
        assert torch.equal(ds.images, direct.images) and torch.equal(ds.labels, direct.labels)


def fail_if_called(*args, **kwargs):
    raise AssertionError("frames were decoded although the cache is valid")


def test_cache_is_rebuilt_when_a_source_file_changes(root):
    Dataset_Dance(root, "train", video_len=8, **SIZE)
    frame = root / "train" / "train_img" / "frame3.png"
    Image.new("RGB", (64, 32), (255, 0, 0)).save(frame)
    ds = Dataset_Dance(root, "train", video_len=8, **SIZE)
    assert torch.equal(ds[0][0][3], template_frame(frame))
    assert float(ds[0][0][3, 0].min()) == 1.0


def test_cache_depends_on_the_frame_size(root):
    Dataset_Dance(root, "val", video_len=24, **SIZE)
    assert Dataset_Dance(root, "val", video_len=24, frame_H=8, frame_W=16)[0][0].shape == (24, 3, 8, 16)


def test_unwritable_dataset_root_falls_back_to_the_user_cache(root, tmp_path):
    (root / dataloader.CACHE_DIR_NAME).write_text("a file where the cache folder would go")
    Dataset_Dance(root, "val", video_len=24, **SIZE)
    assert list((tmp_path / "user_cache").rglob("val_16x32.pt"))


def test_damaged_cache_is_rebuilt_with_a_warning(root):
    Dataset_Dance(root, "val", video_len=24, **SIZE)
    (root / dataloader.CACHE_DIR_NAME / "val_16x32.pt").write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="unreadable frame cache"):
        ds = Dataset_Dance(root, "val", video_len=24, **SIZE)
    assert torch.equal(ds[0][0][0], template_frame(root / "val" / "val_img" / "frame0.png"))


# -- bad input -----------------------------------------------------------------------------------
def expect_error(match, make=lambda r: Dataset_Dance(r, "train", video_len=8, **SIZE), root=None):
    with pytest.raises(UserInputError, match=match):
        make(root)


def test_missing_root(tmp_path):
    expect_error("no dataset root given", root=None)
    expect_error(f"{tmp_path / 'nowhere'} does not exist", root=tmp_path / "nowhere")


def test_missing_sub_folder(root):
    shutil.rmtree(root / "train" / "train_label")
    expect_error(r"missing folder .*train_label", root=root)


def test_empty_frame_folder(root):
    shutil.rmtree(root / "val" / "val_img")
    (root / "val" / "val_img").mkdir()
    expect_error(r"val_img contains no frames", lambda r: Dataset_Dance(r, "val", video_len=24), root)


def test_image_without_label_and_label_without_image(root):
    os.remove(root / "train" / "train_label" / "frame3.png")
    expect_error(r"images without a label in .*train_label: frame3\.png", root=root)
    os.remove(root / "train" / "train_img" / "frame3.png")
    os.remove(root / "train" / "train_img" / "frame12.png")
    expect_error(r"labels without an image in .*train_img: frame12\.png", root=root)


def test_file_that_is_not_a_png(root):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 32)).save(buffer, format="JPEG")
    (root / "train" / "train_img" / "frame5.png").write_bytes(buffer.getvalue())
    expect_error(r"frame5\.png: not a PNG file \(its content is JPEG\)", root=root)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_truncated_or_corrupt_png(root, damage):
    path = root / "train" / "train_label" / "frame7.png"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] if damage == "truncate" else b"\x89PNG" + bytes(200))
    expect_error(r"train_label.frame7\.png: cannot decode the image, the file is corrupt, truncated", root=root)


def test_non_numeric_frame_name(root):
    shutil.copy(root / "train" / "train_img" / "frame1.png", root / "train" / "train_img" / "frameabc.png")
    expect_error(r"frameabc\.png: not a frame file name: expected frame<N>\.png", root=root)


def test_other_files_are_named_not_skipped(root):
    (root / "train" / "train_img" / "notes.txt").write_text("hello")
    expect_error(r"notes\.txt: not a PNG frame", root=root)


def test_two_files_with_the_same_frame_number(root):
    shutil.copy(root / "train" / "train_img" / "frame1.png", root / "train" / "train_img" / "frame01.png")
    expect_error(r"have the same frame number 1", root=root)


def test_fewer_frames_than_one_clip(root):
    expect_error(r"val_img has 24 frames.*fewer than one clip of 630 frames .--val_vi_len.",
                 lambda r: Dataset_Dance(r, "val", video_len=630, **SIZE), root)


def test_test_video_without_labels(root):
    shutil.rmtree(root / "test" / "test_label" / "1")
    expect_error(r"test videos without labels: no folder .*test_label.1", lambda r: Dataset_Test(r, **SIZE), root)


def test_test_video_without_first_frame(root):
    os.remove(root / "test" / "test_img" / "0" / "frame0.png")
    expect_error(r"test_img.0 contains no frames", lambda r: Dataset_Test(r, **SIZE), root)


def test_test_label_folder_missing(root):
    shutil.rmtree(root / "test" / "test_label")
    expect_error(r"missing folder .*test_label", lambda r: Dataset_Test(r, **SIZE), root)


def test_test_video_folder_with_a_non_numeric_name(root):
    (root / "test" / "test_img" / "extra").mkdir()
    expect_error(r"extra: expected only numbered video folders", lambda r: Dataset_Test(r, **SIZE), root)


def test_cli_reports_bad_input_without_a_traceback(root):
    os.remove(root / "val" / "val_label" / "frame2.png")
    result = subprocess.run([sys.executable, str(REPO / "make_dataset.py"), "check", "--DR", str(root)],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: images without a label") and "frame2.png" in result.stderr
    assert "Traceback" not in result.stderr


# -- faults that used to pass silently or as tracebacks (issue 13) ----------------------------------
def test_cache_sees_same_size_frames_swapped_with_their_mtimes_restored(root):
    a, b = (root / "train" / "train_img" / f"frame{i}.png" for i in (3, 4))
    Image.new("RGB", (64, 32), (255, 0, 0)).save(a, compress_level=0)  # uncompressed: the same size
    Image.new("RGB", (64, 32), (0, 0, 255)).save(b, compress_level=0)
    assert a.stat().st_size == b.stat().st_size
    Dataset_Dance(root, "train", video_len=8, **SIZE)
    times = [(p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in (a, b)]
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    for path, ns in zip((a, b), times):
        os.utime(path, ns=ns)
    ds = Dataset_Dance(root, "train", video_len=8, **SIZE)
    assert torch.equal(ds[0][0][3], template_frame(a)) and float(ds[0][0][3, 2].min()) == 1.0  # now blue


def test_an_untraversable_cache_folder_is_rebuilt_with_a_warning(root, monkeypatch):
    Dataset_Dance(root, "val", video_len=24, **SIZE)
    real_is_file = Path.is_file

    def denied(path):
        if dataloader.CACHE_DIR_NAME in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_file(path)

    monkeypatch.setattr(Path, "is_file", denied)
    with pytest.warns(UserWarning, match="unreadable frame cache"):
        Dataset_Dance(root, "val", video_len=24, **SIZE)


@pytest.mark.parametrize("target", ["nowhere.png", "loop"])
def test_a_dangling_or_looping_symlink_in_a_frame_folder_is_named(root, target):
    link = root / "train" / "train_img" / "frame999.png"
    link.unlink(missing_ok=True)
    link.symlink_to(link if target == "loop" else root / target)
    (root / "train" / "train_label" / "frame999.png").write_bytes(b"")
    expect_error(f"{link}: a broken or looping symbolic link", root=root)


def test_a_gap_in_a_test_videos_label_numbering_is_refused(root):
    labels = root / "test" / "test_label" / "1"
    (labels / "frame5.png").rename(labels / "frame15.png")
    expect_error(r"test_label/1: a gap in the frame numbering, frame4.png is followed by frame6.png",
                 make=lambda r: Dataset_Test(r, **SIZE), root=root)


@pytest.mark.parametrize("dtype, mode", [("<u2", "I;16"), (">u2", "I;16B")])
def test_16_bit_greyscale_frames_are_scaled_not_clipped_to_white(tmp_path, dtype, mode):
    grey8 = np.arange(32 * 64, dtype=np.uint32).reshape(32, 64) % 256
    path = tmp_path / "frame0.png"
    Image.frombytes(mode, (64, 32), (grey8 * 257).astype(dtype).tobytes()).save(path)  # as ffmpeg -pix_fmt gray16be
    assert Image.open(path).mode in dataloader.SIXTEEN_BIT_GREY
    decoded = dataloader.decode_frame(path, 32, 64)
    assert decoded.shape == (3, 32, 64) and np.array_equal(decoded[1], grey8)


def test_a_fifo_in_a_frame_folder_is_named_as_one(root):
    fifo = root / "train" / "train_img" / "frame998.png"
    os.mkfifo(fifo)
    (root / "train" / "train_label" / "frame998.png").write_bytes(b"")
    expect_error(f"{fifo}: not a regular file .a FIFO, socket or device., not a frame file", root=root)
