"""modules/video_import.py and `make_dataset.py import`: own videos into the LAB4 layout (MP4: test_mp4.py)."""

import numpy as np
import pytest
import torch
from PIL import Image

import make_dataset
from dataloader import Dataset_Dance, Dataset_Test, load_test_ground_truth
from modules.data import synthetic
from modules.data.video_import import import_dataset, iter_frames
from modules.errors import UserInputError

N_FRAMES = 30


@pytest.fixture(scope="module")
def video():
    """A tiny dance: (person frames, pose frames), lists of 30 RGB images of 64x32."""
    spec = synthetic.sample_video(7, "val", 0, N_FRAMES, (32, 64))
    rendered = synthetic.render_frames(spec, range(N_FRAMES))
    return [p for p, _ in rendered], [label for _, label in rendered]


def write_gif(frames, path, duration=20):
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration, loop=0)
    return path


def write_folder(frames, folder):
    folder.mkdir()
    for i, frame in enumerate(frames):
        frame.save(folder / f"frame{i}.png")
    return folder


def pixels(image):
    return np.asarray(Image.open(image).convert("RGB") if not isinstance(image, Image.Image) else image)


@pytest.fixture
def gifs(video, tmp_path):
    person, pose = video
    return write_gif(person, tmp_path / "person.gif"), write_gif(pose, tmp_path / "pose.gif")


def test_gif_pair_becomes_a_loadable_lab4_dataset(gifs, tmp_path):
    out = tmp_path / "ds"
    split = import_dataset([gifs], out, val="6", test="5", n_test=2, progress=False)
    assert split == {"train": 14, "val": 6, "test": 5, "n_test": 2}
    assert len(list((out / "train" / "train_img").iterdir())) == 14
    decoded = list(iter_frames(gifs[0]))
    assert np.array_equal(pixels(out / "val" / "val_img" / "frame0.png"), pixels(decoded[14]))
    assert np.array_equal(pixels(out / "test" / "test_img" / "1" / "frame0.png"), pixels(decoded[25]))
    assert len(Dataset_Dance(out, "train", video_len=7)) == 2
    assert Dataset_Dance(out, "val", video_len=6)[0][0].shape == (6, 3, 32, 64)
    test = Dataset_Test(out)
    assert len(test) == 2 and test[1][1].shape == (5, 3, 32, 64)
    gt = load_test_ground_truth(out)
    assert gt.shape == (2, 5, 3, 32, 64) and torch.equal(gt[1, 0], test[1][0][0])


def test_fractions_split_the_frames(gifs, tmp_path):
    split = import_dataset([gifs, gifs], tmp_path / "ds", val="0.2", test="0.1", progress=False)
    assert split == {"train": 42, "val": 12, "test": 6, "n_test": 1}


def test_gif_frames_lasting_k_times_20ms_expand_to_k_frames(video, tmp_path):
    person = video[0]
    frames = [person[0], person[0], person[0], person[5], person[9]]  # the writer merges the repeats
    path = write_gif(frames, tmp_path / "merged.gif")
    with Image.open(path) as im:
        assert im.n_frames == 3
    assert len(list(iter_frames(path))) == 5
    assert len(list(iter_frames(path, gif_frame_ms=0))) == 3


def test_template_gifs_drop_the_doubled_first_frame(video, tmp_path):
    person = video[0][:10]
    path = tmp_path / "template.gif"
    person[0].save(path, format="GIF", append_images=person, save_all=True, duration=20, loop=0)
    assert len(list(iter_frames(path))) == 11
    frames = list(iter_frames(path, template_gif=True))
    assert len(frames) == 10 and np.array_equal(pixels(frames[3]), pixels(list(iter_frames(path))[4]))


def test_pose_offset_aligns_a_pose_video_that_starts_one_frame_late(video, tmp_path):
    person, pose = video
    pair = (write_folder(person, tmp_path / "person"), write_folder(pose[1:], tmp_path / "pose"))
    out = tmp_path / "repeat"
    import_dataset([pair], out, val="5", test="5", pose_offset=1, fill="repeat", progress=False)
    labels = out / "train" / "train_label"
    assert np.array_equal(pixels(labels / "frame0.png"), pixels(pose[1]))
    assert np.array_equal(pixels(labels / "frame1.png"), pixels(pose[1]))
    assert np.array_equal(pixels(labels / "frame7.png"), pixels(pose[7]))
    assert np.array_equal(pixels(out / "train" / "train_img" / "frame7.png"), pixels(person[7]))
    dropped = tmp_path / "drop"
    split = import_dataset([pair], dropped, val="5", test="5", pose_offset=1, fill="drop", progress=False)
    assert split["train"] == N_FRAMES - 1 - 10
    assert np.array_equal(pixels(dropped / "train" / "train_img" / "frame0.png"), pixels(person[1]))
    assert np.array_equal(pixels(dropped / "train" / "train_label" / "frame0.png"), pixels(pose[1]))


def test_frame_size_resizes_with_bilinear(gifs, tmp_path):
    import_dataset([gifs], tmp_path / "ds", val="5", test="5", frame_size=(16, 24), progress=False)
    with Image.open(tmp_path / "ds" / "val" / "val_label" / "frame2.png") as im:
        assert im.size == (24, 16)
    expected = list(iter_frames(gifs[1]))[22].resize((24, 16), Image.BILINEAR)
    assert np.array_equal(pixels(tmp_path / "ds" / "val" / "val_label" / "frame2.png"), pixels(expected))


def test_mismatched_lengths_are_an_error(video, tmp_path):
    person, pose = video
    pair = (write_gif(person, tmp_path / "p.gif"), write_gif(pose[:-2], tmp_path / "q.gif"))
    with pytest.raises(UserInputError, match=r"p\.gif has 30 frames but .*q\.gif has 28"):
        import_dataset([pair], tmp_path / "ds", progress=False)
    assert not (tmp_path / "ds").exists()


def test_split_that_leaves_no_training_frames_is_an_error(gifs, tmp_path):
    with pytest.raises(UserInputError, match="30 frames cannot hold val=20"):
        import_dataset([gifs], tmp_path / "ds", val="20", test="10", progress=False)


def test_different_frame_sizes_need_frame_size(video, tmp_path):
    person, pose = video
    small = [p.resize((32, 16)) for p in pose]
    pair = (write_gif(person, tmp_path / "p.gif"), write_gif(small, tmp_path / "q.gif"))
    with pytest.raises(UserInputError, match="give --frame_size"):
        import_dataset([pair], tmp_path / "ds", progress=False)


def test_existing_output_and_bad_sources_are_errors(gifs, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(UserInputError, match="already exists and is not empty"):
        import_dataset([gifs], tmp_path / "full", progress=False)
    with pytest.raises(UserInputError, match="missing.gif does not exist"):
        import_dataset([(tmp_path / "missing.gif", gifs[1])], tmp_path / "a", progress=False)
    (tmp_path / "clip.txt").write_text("x")
    with pytest.raises(UserInputError, match="unsupported source"):
        import_dataset([(tmp_path / "clip.txt", gifs[1])], tmp_path / "b", progress=False)
    (tmp_path / "bad.gif").write_bytes(b"GIF89a" + bytes(20))
    with pytest.raises(UserInputError, match=r"bad\.gif: cannot read the GIF"):
        import_dataset([(tmp_path / "bad.gif", gifs[1])], tmp_path / "c", progress=False)


def test_cli_import_and_its_errors(gifs, tmp_path, capsys):
    make_dataset.main(["import", "--pair", str(gifs[0]), str(gifs[1]), "--out", str(tmp_path / "ds"),
                       "--val", "6", "--test", "6"])
    assert "18 train frames, 6 val frames, 1 test video(s) of 6 frames" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        make_dataset.main(["import", "--pair", str(gifs[0]), str(gifs[1]), "--out", str(tmp_path / "ds")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already exists and is not empty" in err


@pytest.mark.parametrize("writer", ["import", "synthetic"])
def test_a_partial_folder_holding_the_users_files_is_refused_not_deleted(writer, gifs, tmp_path):
    out = tmp_path / "own"
    partial = tmp_path / "own.partial"
    partial.mkdir()
    (partial / "important.txt").write_text("precious")
    with pytest.raises(UserInputError, match=r"own.partial exists and is not a dataset .*\(important.txt\)"):
        if writer == "import":
            import_dataset([gifs], out, val="5", test="5", progress=False)
        else:
            synthetic.generate_dataset(out, progress=False, workers=1, n_train_videos=1, train_video_len=4,
                                       val_len=4, n_test=1, test_len=4, frame_size=(16, 16))
    assert (partial / "important.txt").read_text() == "precious" and not out.exists()


def test_a_killed_imports_partial_folder_is_replaced(gifs, tmp_path):
    partial = tmp_path / "own.partial"
    (partial / "train" / "train_img").mkdir(parents=True)
    (partial / "train" / "train_img" / "frame0.png").write_bytes(b"half")
    (partial / ".lab4_import.x1.tmp.json").write_text("")
    import_dataset([gifs], tmp_path / "own", val="5", test="5", progress=False)
    assert not partial.exists() and (tmp_path / "own" / ".lab4_import.json").is_file()


@pytest.mark.parametrize("text, frames", [("630", 630), ("630.0", 630), ("0.1", 100), ("1.0", 1000)])
def test_split_sizes_are_counts_or_fractions_up_to_one(text, frames):
    from modules.data.video_import import split_amount
    assert split_amount(text, 1000) == frames
    with pytest.raises(UserInputError, match="a fraction up to 1"):
        split_amount("2.5", 1000)


# -- --dedither: the gated 3x3 box blur of palette GIFs' person frames -----------------------------
def reference_gated_blur(frame, edge):
    """gated_box_blur written out pixel by pixel: the mean (rounded half up) over the 3x3 neighbours,
    edge pixels repeated outward, whose channels all lie within ``edge`` of the centre's."""
    h, w, c = frame.shape
    out = np.empty_like(frame)
    for y in range(h):
        for x in range(w):
            centre = frame[y, x].astype(int)
            near = [frame[min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)].astype(int)
                    for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
            near = [n for n in near if np.abs(n - centre).max() <= edge]
            out[y, x] = [(2 * sum(n[k] for n in near) + len(near)) // (2 * len(near)) for k in range(c)]
    return out


def palette_dither(shape, low, share, rng):
    """A flat field of level ``low + 51 * share`` drawn as lab4_gif's palette draws it: each channel of
    each pixel the palette level ``low`` or the next one up (51 levels higher), a ``share`` of them up,
    the pattern random."""
    return (low + 51 * (rng.random(shape) < share)).astype(np.uint8)


def test_gated_box_blur_matches_the_pixel_by_pixel_definition():
    from modules.data.dither import DITHER_EDGE, gated_box_blur
    rng = np.random.default_rng(0)
    frame = (51 * rng.integers(0, 6, size=(7, 9, 3))).astype(np.uint8)
    frame[2, 3] = [10, 200, 37]  # off the palette: distances that are not multiples of 51
    for edge in (0, 50, DITHER_EDGE, 101, 255):
        assert np.array_equal(gated_box_blur(frame, edge), reference_gated_blur(frame, edge)), edge
    assert np.array_equal(gated_box_blur(frame, 0)[frame.min(axis=2) == frame.max(axis=2)],
                          frame[frame.min(axis=2) == frame.max(axis=2)])


def test_gated_box_blur_exact_values_at_a_step_edge_and_on_a_hand_example():
    from modules.data.dither import gated_box_blur
    step = np.zeros((4, 6, 3), dtype=np.uint8)
    step[:, :3], step[:, 3:] = 40, 200  # dark dancer | light wall: 160 levels apart
    assert np.array_equal(gated_box_blur(step), step)  # the edge columns keep their exact values
    wall = np.array([[153, 204, 153],
                     [204, 153, 100],
                     [153, 153, 0]], dtype=np.uint8)[:, :, None].repeat(3, axis=2)
    out = gated_box_blur(wall)[:, :, 0]
    assert out[1, 1] == 159  # (5 x 153 + 2 x 204 + 100) / 8 = 159.1: the 0 is 153 levels away, left out
    assert out[1, 2] == 135  # 4 x 153 + 2 x 100 (the edge column repeated) over 6; 204 and 0 left out
    assert out[2, 2] == 0  # only itself (4 times with the repeated border) is within 64 of 0


def test_gated_box_blur_flattens_a_palette_dither_and_keeps_the_dancers_edge():
    from modules.data.dither import gated_box_blur
    rng = np.random.default_rng(1)
    wall = palette_dither((40, 60, 3), 153, 1 / 3, rng)  # a grey of 170 as 153s and 204s
    raw_error = np.abs(wall.astype(float) - 170).mean()
    assert raw_error > 20
    assert np.abs(gated_box_blur(wall).astype(float) - 170).mean() < 0.4 * raw_error
    scene = wall.copy()
    scene[:, :30] = palette_dither((40, 30, 3), 0, 1 / 2, rng)  # a dark dancer: levels 0 and 51
    out = gated_box_blur(scene)
    assert out[:, :30].max() <= 51 and out[:, 30:].min() >= 153  # nothing crosses the dancer's edge
    blurred = gated_box_blur(scene, edge=255)
    assert blurred[:, 29].max() > 51 and blurred[:, 30].min() < 153  # an ungated blur smears it


def test_gated_box_blur_ungated_is_the_scorings_box_blur_rounded():
    from modules.data.dither import gated_box_blur
    from modules.eval.metrics import box_blur
    frame = (51 * np.random.default_rng(2).integers(0, 6, size=(6, 8, 3))).astype(np.uint8)
    scoring = box_blur(torch.from_numpy(frame.astype(np.float32)).permute(2, 0, 1)).permute(1, 2, 0)
    assert np.array_equal(gated_box_blur(frame, edge=255), np.floor(scoring.numpy() + 0.5).astype(np.uint8))


def read_record(root):
    import json
    return json.loads((root / ".lab4_import.json").read_text())


def test_dedither_filters_the_person_frames_only_and_records_it(gifs, tmp_path):
    from modules.data.dither import DITHER_EDGE, gated_box_blur
    plain, dedithered = tmp_path / "plain", tmp_path / "dedithered"
    import_dataset([gifs], plain, val="5", test="5", progress=False)
    import_dataset([gifs], dedithered, val="5", test="5", dedither=True, progress=False)
    assert read_record(plain)["dedither"] is False and read_record(plain)["dedither_edge"] is None
    assert read_record(dedithered)["dedither"] is True and read_record(dedithered)["dedither_edge"] == DITHER_EDGE
    decoded = list(iter_frames(gifs[0]))
    for i, rel in [(0, "train/train_img/frame0.png"), (7, "train/train_img/frame7.png"),
                   (22, "val/val_img/frame2.png"), (25, "test/test_img/0/frame0.png"),
                   (29, "test/test_img_gt/0/frame4.png")]:
        expected = gated_box_blur(pixels(decoded[i]))
        assert np.array_equal(pixels(dedithered / rel), expected), rel
        assert not np.array_equal(pixels(plain / rel), expected), rel  # the filter changed the frame
    labels = sorted(p.relative_to(plain) for p in plain.rglob("*.png") if "label" in str(p.parent))
    assert len(labels) == N_FRAMES
    for rel in labels:
        assert (dedithered / rel).read_bytes() == (plain / rel).read_bytes(), rel


def test_dedither_runs_at_the_source_size_before_the_resize(gifs, tmp_path):
    from modules.data.dither import dedither_image
    import_dataset([gifs], tmp_path / "ds", val="5", test="5", frame_size=(16, 24), dedither=True, progress=False)
    expected = dedither_image(list(iter_frames(gifs[0]))[3]).resize((24, 16), Image.BILINEAR)
    assert np.array_equal(pixels(tmp_path / "ds" / "train" / "train_img" / "frame3.png"), pixels(expected))


def test_dedither_refuses_person_sources_that_are_not_gifs(video, gifs, tmp_path):
    folder = write_folder(video[0], tmp_path / "person_pngs")
    with pytest.raises(UserInputError, match=r"person_pngs: --dedither .* not a GIF"):
        import_dataset([gifs, (folder, gifs[1])], tmp_path / "a", dedither=True, progress=False)
    with pytest.raises(UserInputError, match=r"dance\.mp4: --dedither .* not a GIF"):
        import_dataset([(tmp_path / "dance.mp4", gifs[1])], tmp_path / "b", dedither=True, progress=False)
    import_dataset([(gifs[0], write_folder(video[1], tmp_path / "pose_pngs"))], tmp_path / "c", val="5",
                   test="5", dedither=True, progress=False)  # a pose source is never filtered: any kind
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_dedither_flag_and_its_help(gifs, tmp_path, capsys):
    make_dataset.main(["import", "--pair", str(gifs[0]), str(gifs[1]), "--out", str(tmp_path / "ds"),
                       "--val", "6", "--test", "6", "--dedither"])
    assert read_record(tmp_path / "ds")["dedither"] is True
    with pytest.raises(SystemExit):
        make_dataset.main(["import", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--dedither" in help_text and "lab4_gif" in help_text and "not for the course's PNG dataset" in help_text
