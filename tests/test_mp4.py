"""MP4 in and out: save_mp4 (Tester.py --make_gif) and make_dataset.py import read each other's files
within codec tolerance (needs the optional imageio-ffmpeg, installed by .ci/run); without it, the messages
say what to install (absence simulated)."""
import importlib.util

import numpy as np
import pytest
import torch

from dataloader import Dataset_Dance
from modules.data import synthetic
from modules.data.video_import import import_dataset, iter_frames
from modules.errors import UserInputError
from modules.eval import media
from modules.eval.tester import write_videos

N_FRAMES = 30
# H.264 in yuv420p: chroma at half resolution blurs the thin coloured pose lines most.
MIN_FRAME_PSNR_DB = 25.0


@pytest.fixture(scope="module")
def clip():
    """(person, pose) of a 30-frame synthetic dance at 32x64: float tensors (T, 3, H, W) in [0, 1]."""
    spec = synthetic.sample_video(7, "val", 0, N_FRAMES, (32, 64))
    rendered = synthetic.render_frames(spec, range(N_FRAMES))
    return tuple(torch.stack([torch.from_numpy(np.array(pair[k])).permute(2, 0, 1).float() / 255 for pair in rendered])
                 for k in (0, 1))


def frame_psnr(decoded, frames):
    """Per-frame PSNR (dB) of decoded uint8 (T, H, W, 3) arrays against (T, 3, H, W) floats."""
    truth = frames.mul(255).round().permute(0, 2, 3, 1).numpy()
    mse = ((np.asarray(decoded, dtype=np.float64) - truth) ** 2).mean(axis=(1, 2, 3))
    return 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))


def needs_ffmpeg():
    pytest.importorskip("imageio_ffmpeg")


def test_an_mp4_written_by_save_mp4_imports_as_the_same_frames(clip, tmp_path):
    needs_ffmpeg()
    person, pose = clip
    paths = tmp_path / "person.mp4", tmp_path / "pose.mp4"
    for frames, path in zip(clip, paths):
        assert media.save_mp4(frames, path, scale=1)
        decoded = np.stack([np.asarray(image) for image in iter_frames(path)])
        assert decoded.shape == (N_FRAMES, 32, 64, 3)
        assert frame_psnr(decoded, frames).min() > MIN_FRAME_PSNR_DB
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically
    split = import_dataset([paths], tmp_path / "ds", val="6", test="6", progress=False)
    assert split == {"train": 18, "val": 6, "test": 6, "n_test": 1}
    val_frames, val_poses = Dataset_Dance(tmp_path / "ds", "val", video_len=6, cache=False)[0]
    rounded = (val_frames.mul(255).round().permute(0, 2, 3, 1).numpy())
    assert frame_psnr(rounded, person[18:24]).min() > MIN_FRAME_PSNR_DB
    assert frame_psnr(val_poses.mul(255).round().permute(0, 2, 3, 1).numpy(), pose[18:24]).min() > MIN_FRAME_PSNR_DB


def test_make_gif_writes_an_mp4_beside_each_gif(clip, tmp_path, capsys):
    needs_ffmpeg()
    videos = torch.stack([clip[0], clip[0].flip(0)])
    write_videos(["0", "1"], videos, tmp_path)
    assert "wrote pred_seq<v>.gif and .mp4 for 2 videos" in capsys.readouterr().out
    for name, video in zip("01", videos):
        decoded = np.stack([np.asarray(image) for image in iter_frames(tmp_path / f"pred_seq{name}.mp4")])
        assert decoded.shape == (N_FRAMES, 64, 128, 3)  # enlarged 2x like the GIF
        assert frame_psnr(decoded[:, ::2, ::2], video).min() > MIN_FRAME_PSNR_DB - 3  # every other pixel


@pytest.fixture
def without_ffmpeg(monkeypatch):
    """Make imageio-ffmpeg (and PyAV) look uninstalled, as on a machine with only the base requirements."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("imageio_ffmpeg", "av") else real(name, *a))


def test_without_imageio_ffmpeg_import_says_what_to_install(without_ffmpeg, tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 64)
    with pytest.raises(UserInputError) as err:
        import_dataset([(tmp_path / "clip.mp4", tmp_path / "clip.mp4")], tmp_path / "ds", progress=False)
    assert str(err.value) == (f"{tmp_path / 'clip.mp4'}: reading .mp4 files needs the optional package imageio-ffmpeg "
                              "(pip install imageio-ffmpeg); or convert the video to a GIF or a folder of PNG frames")


def test_without_imageio_ffmpeg_make_gif_writes_gifs_and_says_why_no_mp4(without_ffmpeg, clip, tmp_path, capsys):
    assert not media.save_mp4(clip[0], tmp_path / "x.mp4")
    write_videos(["0"], clip[0][None], tmp_path)
    assert capsys.readouterr().out == ("wrote pred_seq<v>.gif for 1 videos (MP4 needs the optional imageio-ffmpeg "
                                       "package: pip install imageio-ffmpeg)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred_seq0.gif"]


@pytest.mark.parametrize("content", [b"", b"hello\n", bytes(range(256)) * 20])
def test_an_unreadable_mp4_is_one_short_line_without_ffmpegs_banner(tmp_path, content):
    needs_ffmpeg()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(UserInputError) as err:
        import_dataset([(bad, bad)], tmp_path / "out", progress=False)
    message = str(err.value)
    assert message.startswith(f"{bad}: cannot read the video (") and "\n" not in message
    assert "configuration:" not in message and "ffmpeg version" not in message
