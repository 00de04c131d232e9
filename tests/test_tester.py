"""Tester.py end to end on a tiny LAB4-layout dataset: the submission, template checkpoints, bad input."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import Tester
import score
from conftest import TINY_WIDTH_FLAGS, TINY_WIDTHS
from modules.checkpoint import save_checkpoint
from modules.eval.metrics import copy_baseline, silhouette_iou, vacated_psnr
from modules.eval.rollout import generate
from modules.eval.submission import read_submission, score_files, to_pixels
from modules.vae import VAE_Model

N_VIDEOS, N_FRAMES = 5, 4



def _png(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.transpose(1, 2, 0)).save(path)


def make_test_split(root, n_videos=N_VIDEOS, n_frames=N_FRAMES, seed=0):
    """test_img/<v>/frame0.png, test_label/<v>/frame<N>.png, test_img_gt/<v>/frame<N>.png at 32x64.
    Returns the ground truth as uint8 (V, T, 3, 32, 64)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 256, (n_videos, n_frames, 3, 32, 64), dtype=np.uint8)
    for v in range(n_videos):
        _png(root / "test" / "test_img" / str(v) / "frame0.png", truth[v, 0])
        for t in range(n_frames):
            _png(root / "test" / "test_label" / str(v) / f"frame{t}.png",
                 rng.integers(0, 256, (3, 32, 64), dtype=np.uint8))
            _png(root / "test" / "test_img_gt" / str(v) / f"frame{t}.png", truth[v, t])
    return truth


def our_checkpoint(path, **config):
    torch.manual_seed(0)
    model = VAE_Model(**TINY_WIDTHS, **config).eval()
    save_checkpoint(path, {"model": model.state_dict(), "epoch": 7, "config": {**TINY_WIDTHS, **config}})
    return model


def run_tester(*args):
    Tester.main([*map(str, args), "--device", "cpu", "--test_vi_len", str(N_FRAMES)])


def test_submission_from_our_checkpoint_is_the_seeded_rollout(tmp_path):
    truth = make_test_split(tmp_path / "data")
    model = our_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt", output_mode="anchored")
    run_tester("--DR", tmp_path / "data", "--ckpt_path", tmp_path / "run" / "checkpoints" / "best.pt", "--seed", 3)

    csv_path = tmp_path / "run" / "submission.csv"  # default --save_root: the checkpoint's run folder
    header = csv_path.read_text().split("\n", 1)[0]
    assert header == "id," + ",".join(map(str, range(6144)))
    stored = read_submission(csv_path, frames_per_video=N_FRAMES)
    assert stored.shape == (N_VIDEOS, N_FRAMES, 3, 32, 64)
    np.testing.assert_array_equal(stored[:, 0], truth[:, 0])  # frame 0 is the given first frame
    first = torch.from_numpy(truth[:, 0]).float() / 255
    poses = torch.stack([torch.stack([torch.from_numpy(np.asarray(Image.open(
        tmp_path / "data" / "test" / "test_label" / str(v) / f"frame{t}.png")).transpose(2, 0, 1).copy())
        for t in range(N_FRAMES)]) for v in range(N_VIDEOS)]).float() / 255
    expected = generate(model, first, poses, seed=3)
    np.testing.assert_array_equal(stored, to_pixels(expected))

    summary = json.loads((tmp_path / "run" / "test_summary.json").read_text())
    assert summary["videos"] == ["0", "1", "2", "3", "4"] and summary["csv_bytes"] == csv_path.stat().st_size
    answer = tmp_path / "answer.csv"
    score.main(["--DR", str(tmp_path / "data"), "--write_answer", str(answer)])
    result = score_files(csv_path, answer, frames_per_video=N_FRAMES)
    assert summary["scores"]["public"] == pytest.approx(result["public"])
    assert summary["scores"]["private"] == pytest.approx(result["private"])
    # beside the Kaggle formula: the vacated region and the silhouette, with copying frame 0
    true = torch.from_numpy(truth).float() / 255
    scores, baseline = summary["scores"], copy_baseline(true)
    assert scores["vacated_psnr_per_video"] == pytest.approx(vacated_psnr(expected, true).tolist(), nan_ok=True)
    assert scores["silhouette_iou_per_video"] == pytest.approx(silhouette_iou(expected, true).tolist(), nan_ok=True)
    assert scores["copy_vacated_psnr"] == pytest.approx(baseline["vacated_psnr"], nan_ok=True)
    assert scores["copy_silhouette_iou"] == pytest.approx(baseline["silhouette_iou"], nan_ok=True)


def test_template_checkpoint_makes_a_submission_with_width_flags(tmp_path, capsys):
    make_test_split(tmp_path / "data")
    model = VAE_Model(**TINY_WIDTHS)
    ckpt = tmp_path / "epoch=3.ckpt"
    torch.save({"state_dict": model.state_dict(), "optimizer": model.state_dict(), "lr": 1e-5, "tfr": 0.5,
                "last_epoch": 3}, ckpt)
    run_tester("--DR", tmp_path / "data", "--ckpt_path", ckpt, "--save_root", tmp_path / "out", "--make_gif",
               *TINY_WIDTH_FLAGS)
    assert read_submission(tmp_path / "out" / "submission.csv", frames_per_video=N_FRAMES).shape[0] == N_VIDEOS
    assert sorted(p.name for p in (tmp_path / "out").glob("pred_seq*.gif")) == [f"pred_seq{v}.gif" for v in range(5)]
    assert "course-template checkpoint" in capsys.readouterr().out

    with pytest.raises(SystemExit) as exit_info:  # default (template) widths do not fit these weights
        run_tester("--DR", tmp_path / "data", "--ckpt_path", ckpt, "--save_root", tmp_path / "out2")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "epoch=3.ckpt does not fit" in err
    assert "Decoder_Fusion.0.block.0.conv1.0.bias: checkpoint (28,) vs model (172,)" in err
    assert "--F_dim 16 --L_dim 8 --N_dim 4 --D_out_dim 16" in err
    assert not (tmp_path / "out2" / "submission.csv").exists()


def _expect_error(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        run_tester(*args)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_bad_input_is_named_and_exits_non_zero(tmp_path, capsys):
    data = tmp_path / "data"
    make_test_split(data)
    ckpt = tmp_path / "run" / "best.pt"
    our_checkpoint(ckpt)

    assert "no checkpoint given: pass --ckpt_path" in _expect_error(capsys, "--DR", data)
    assert "nope.pt does not exist" in _expect_error(capsys, "--DR", data, "--ckpt_path", tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    assert "junk.pt is a text file (it starts with 'junk'), not a PyTorch checkpoint; nothing was loaded" in \
        _expect_error(capsys, "--DR", data, "--ckpt_path", tmp_path / "junk.pt")

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    err = _expect_error(capsys, "--DR", data, "--ckpt_path", ckpt, "--save_root", blocker / "out")
    assert f"cannot write to the output folder {blocker / 'out'}" in err

    (data / "test" / "test_label" / "2" / f"frame{N_FRAMES - 1}.png").unlink()
    err = _expect_error(capsys, "--DR", data, "--ckpt_path", ckpt)
    assert "test video 2" in err and f"has {N_FRAMES - 1} pose labels, expected {N_FRAMES}" in err

    (data / "test" / "test_img" / "3" / "frame0.png").unlink()
    err = _expect_error(capsys, "--DR", data, "--ckpt_path", ckpt)
    assert str(data / "test" / "test_img" / "3") in err and "no frames" in err
    assert not (tmp_path / "run" / "submission.csv").exists()


def test_a_broken_ground_truth_is_reported_after_the_submission_is_written(tmp_path, capsys):
    make_test_split(tmp_path / "data")
    our_checkpoint(tmp_path / "run" / "best.pt")
    (tmp_path / "data" / "test" / "test_img_gt" / "1" / "frame2.png").unlink()
    run_tester("--DR", tmp_path / "data", "--ckpt_path", tmp_path / "run" / "best.pt")
    assert "not scored:" in capsys.readouterr().out
    assert read_submission(tmp_path / "run" / "submission.csv", frames_per_video=N_FRAMES).shape[0] == N_VIDEOS
    assert "scores" not in json.loads((tmp_path / "run" / "test_summary.json").read_text())
