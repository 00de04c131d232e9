"""The synthetic dance generator: layout, determinism, look, and safe reuse of the default dataset."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import DATA_TEST_SPLITS, TINY_DATASET
from modules.data import synthetic
from modules.errors import UserInputError

TINY = {**TINY_DATASET, **DATA_TEST_SPLITS}


def generate(root, **overrides):
    return synthetic.generate_dataset(root, progress=False, workers=1, **{**TINY, **overrides})


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(make_tiny_dataset):
    return make_tiny_dataset(**DATA_TEST_SPLITS)


def names(folder):
    return {p.name for p in folder.iterdir()}


def test_layout_matches_lab4(tiny):
    frames = lambda n: {f"frame{i}.png" for i in range(n)}  # noqa: E731
    assert names(tiny / "train" / "train_img") == names(tiny / "train" / "train_label") == frames(40)
    assert names(tiny / "val" / "val_img") == names(tiny / "val" / "val_label") == frames(24)
    assert names(tiny / "test" / "test_img") == names(tiny / "test" / "test_label") == {"0", "1"}
    for v in ("0", "1"):
        assert names(tiny / "test" / "test_img" / v) == {"frame0.png"}
        assert names(tiny / "test" / "test_label" / v) == names(tiny / "test" / "test_img_gt" / v) == frames(10)
        first = tiny / "test" / "test_img" / v / "frame0.png"
        assert first.read_bytes() == (tiny / "test" / "test_img_gt" / v / "frame0.png").read_bytes()
    with Image.open(tiny / "val" / "val_img" / "frame3.png") as im:
        assert (im.format, im.mode, im.size) == ("PNG", "RGB", (64, 32))
    assert json.loads((tiny / synthetic.MARKER_NAME).read_text()) == synthetic.generation_params(**TINY)


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tiny, tmp_path):
    again = generate(tmp_path / "again")
    assert files(again) == files(tiny)
    other = files(generate(tmp_path / "other", seed=1))
    assert other.keys() == files(tiny).keys()
    assert other["val/val_img/frame0.png"] != files(tiny)["val/val_img/frame0.png"]


def test_parallel_workers_write_the_same_files(tiny, tmp_path):
    assert files(synthetic.generate_dataset(tmp_path / "par", progress=False, workers=2, **TINY)) == files(tiny)


def load(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def test_labels_are_coloured_skeletons_on_white_and_frames_a_figure_in_a_grey_studio(tiny):
    label = load(tiny / "val" / "val_label" / "frame5.png")
    white = label.min(axis=-1) > 250
    assert 0.75 < white.mean() < 0.99
    skeleton = label[~white]
    assert (skeleton.max(axis=-1) - skeleton.min(axis=-1)).max() > 150  # saturated OpenPose colours
    frame = load(tiny / "val" / "val_img" / "frame5.png")
    corners = np.concatenate([frame[:4, :4], frame[:4, -4:]]).reshape(-1, 3)
    assert np.ptp(corners.mean(axis=0)) < 25 and 100 < corners.mean() < 240  # greyish wall


def test_val_and_test_videos_are_not_in_train(tiny):
    train = {p.read_bytes() for p in (tiny / "train" / "train_img").iterdir()}
    held_out = list((tiny / "val" / "val_img").iterdir()) + list((tiny / "test" / "test_img_gt").rglob("*.png"))
    assert not any(p.read_bytes() in train for p in held_out)


def test_ensure_generates_once_then_reuses(tmp_path):
    root = synthetic.ensure_synthetic_dataset(tmp_path / "ds", progress=False, workers=1, **TINY)
    marker = root / synthetic.MARKER_NAME
    stamp = marker.stat().st_mtime_ns
    assert synthetic.ensure_synthetic_dataset(tmp_path / "ds", progress=False, workers=1, **TINY) == root
    assert marker.stat().st_mtime_ns == stamp
    synthetic.ensure_synthetic_dataset(root, progress=False, workers=1, **{**TINY, "seed": 5})
    assert json.loads(marker.read_text())["seed"] == 5


def test_a_dataset_of_an_older_format_is_generated_again(tmp_path, capsys):
    root = synthetic.ensure_synthetic_dataset(tmp_path / "ds", progress=False, workers=1, **TINY)
    marker = root / synthetic.MARKER_NAME
    old = {k: v for k, v in json.loads(marker.read_text()).items() if k != "dancers"}
    marker.write_text(json.dumps({**old, "format_version": 1}))  # what format 1 wrote: no dancers key
    (root / "val" / "val_img" / "frame0.png").write_bytes(b"stale")
    synthetic.ensure_synthetic_dataset(root, progress=True, workers=1, **TINY)
    assert json.loads(marker.read_text()) == synthetic.generation_params(**TINY)
    assert (root / "val" / "val_img" / "frame0.png").read_bytes()[:4] == b"\x89PNG"
    said = capsys.readouterr()
    assert "generated with other parameters (dancers, format_version): generating it again" in said.out + said.err


def test_the_marker_records_the_dancers_and_the_variant_writes_other_videos(tiny, tmp_path):
    assert json.loads((tiny / synthetic.MARKER_NAME).read_text())["dancers"] == "one"
    variant = generate(tmp_path / "per_video", dancers="per_video")
    assert json.loads((variant / synthetic.MARKER_NAME).read_text())["dancers"] == "per_video"
    assert files(variant)["val/val_img/frame0.png"] != files(tiny)["val/val_img/frame0.png"]


def test_interrupted_generation_leaves_no_dataset_and_is_redone(tmp_path, monkeypatch):
    calls = []

    def crash_on_second_job(job):
        if calls:
            raise KeyboardInterrupt
        calls.append(job)
        return real_run_job(job)

    real_run_job = synthetic._run_job
    monkeypatch.setattr(synthetic, "_run_job", crash_on_second_job)
    with pytest.raises(KeyboardInterrupt):
        synthetic.ensure_synthetic_dataset(tmp_path / "ds", progress=False, workers=1, **TINY)
    assert not (tmp_path / "ds").exists()
    monkeypatch.setattr(synthetic, "_run_job", real_run_job)
    root = synthetic.ensure_synthetic_dataset(tmp_path / "ds", progress=False, workers=1, **TINY)
    assert (root / synthetic.MARKER_NAME).is_file() and not (tmp_path / "ds.partial").exists()


def test_refuses_to_overwrite_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UserInputError, match="not a synthetic dataset"):
        synthetic.ensure_synthetic_dataset(tmp_path / "mine", progress=False, **TINY)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_bad_parameters_are_user_errors(tmp_path):
    with pytest.raises(UserInputError, match="val_len must be at least 1"):
        generate(tmp_path / "x", val_len=0)
    with pytest.raises(UserInputError, match="too small"):
        generate(tmp_path / "x", frame_size=(4, 8))
    with pytest.raises(UserInputError, match="dancers must be one of one, per_video, got 'each'"):
        generate(tmp_path / "x", dancers="each")


def test_default_root_is_data_synthetic_in_the_repo():
    root = synthetic.default_dataset_root()
    assert root.parts[-2:] == ("data", "synthetic") and (root.parent.parent / "modules").is_dir()
