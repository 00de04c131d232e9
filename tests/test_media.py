"""save_gif: frames, size and colours survive the round trip with either palette."""
import numpy as np
import pytest
import torch
from PIL import Image

from modules.eval.media import save_gif


def read_gif(path):
    image = Image.open(path)
    frames = []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB")))
    return np.stack(frames)


def few_colour_video(length=40):
    """(T, 3, 8, 12) frames of 5 colours (exactly representable in uint8): a block moving on a 4-colour stage."""
    colours = torch.tensor([[0, 0, 0], [255, 255, 255], [200, 30, 60], [20, 120, 220], [90, 200, 40]]) / 255
    video = colours[torch.arange(8 * 12).remainder(4).view(8, 12)].permute(2, 0, 1).repeat(length, 1, 1, 1)
    for t in range(length):
        video[t, :, 2:5, t % 9:t % 9 + 3] = colours[4].view(3, 1, 1)
    return video


@pytest.mark.parametrize("palette", ["per_frame", "shared"])
def test_gif_keeps_every_frame_its_size_and_its_colours(palette, tmp_path):
    video = few_colour_video()
    save_gif(video, tmp_path / "v.gif", scale=2, palette=palette)
    decoded = read_gif(tmp_path / "v.gif")
    assert decoded.shape == (40, 16, 24, 3)
    expected = (video * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(decoded[:, ::2, ::2], expected)
    np.testing.assert_array_equal(decoded[:, 1::2, 1::2], expected)  # nearest enlargement


def test_shared_palette_is_close_on_many_colours(tmp_path):
    video = torch.rand(20, 3, 8, 12, generator=torch.Generator().manual_seed(0))
    save_gif(video, tmp_path / "v.gif", palette="shared")
    error = read_gif(tmp_path / "v.gif") / 255.0 - video.permute(0, 2, 3, 1).numpy()
    assert np.abs(error).mean() < 0.06  # 256 colours for uniform noise: ~0.03 typical


def test_unknown_palette_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="palette"):
        save_gif(torch.zeros(2, 3, 4, 4), tmp_path / "v.gif", palette="global")
    assert not (tmp_path / "v.gif").exists()
