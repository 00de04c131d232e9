"""Every CLI, run in-process through its main(argv): bad input exits 2 with one ``error:`` line, Ctrl-C 130,
and nothing that is not valid is written or reported as valid."""
import os
import re
import shutil

import numpy as np
import pytest
import torch

import make_dataset
import score
import Tester
import Trainer
import val_PSNR
from conftest import TINY_WIDTH_FLAGS, TINY_WIDTHS
from modules.checkpoint import save_checkpoint
from modules.config import parse_train_args
from modules.errors import UserInputError
from modules.eval.submission import write_submission
from modules.vae import VAE_Model
from test_tester import make_test_split

CLIS = {"Trainer": Trainer, "Tester": Tester, "val_PSNR": val_PSNR, "score": score, "make_dataset": make_dataset}
TRAIN = ["--device", "cpu", "--DR", "{tmp}/none"]


def expect_exit(cli, argv, capsys, code=2):
    """Run ``cli.main(argv)``; check the exit code and (for 2) exactly one ``error:`` line. Returns stderr."""
    with pytest.raises(SystemExit) as exit_info:
        CLIS[cli].main(argv)
    assert exit_info.value.code == code
    err = capsys.readouterr().err
    if code == 2:
        assert sum("error:" in line for line in err.splitlines()) == 1, err
        assert "Traceback" not in err
    return err


@pytest.mark.parametrize("flags, message", [
    (["--train_vi_len", "1"], "--train_vi_len: must be an integer >= 2"),
    (["--val_vi_len", "1"], "--val_vi_len: must be an integer >= 2"),
    (["--kl_anneal_ratio", "0"], "--kl_anneal_ratio: must be > 0"),
    (["--lr", "0"], "--lr: must be > 0"),
    (["--lr", "-1"], "--lr: must be > 0"),
    (["--lr", "nan"], "--lr: must be a finite number"),
    (["--num_workers", "-1"], "--num_workers: must be an integer >= 0"),
    (["--seed", "100000000000000000000"], "--seed: must be an integer <= 9223372036854775807 (torch seeds with 64"),
    (["--F_dim", "200000"], "--F_dim: must be an integer <= 1024 (the model would not fit in memory)"),
    (["--frame_H", "99999999999999999999"], "--frame_H: must be an integer <= 2048"),
    (["--ddp_timeout", "0.001"], "--ddp_timeout: must be >= 30 seconds"),
    (["--num_epoch", "99999999999999999999"], "--num_epoch: must be an integer <= 1000000000"),
    (["--N_dim", "3"], "--N_dim: must be an integer >= 4"),
    (["--frame_H", "3", "--frame_W", "5"], "--frame_H: must be an integer >= 4"),
    (["--tfr", "2"], "--tfr: must be in \\[0, 1\\]"),
    (["--milestones", "0"], "--milestones: must be an integer >= 1"),
    (["--seed", "x"], "--seed: expected an integer"),
])
def test_bad_trainer_flags(flags, message, capsys, tmp_path):
    err = expect_exit("Trainer", [a.format(tmp=tmp_path) for a in TRAIN] + flags, capsys)
    assert message.replace("\\", "") in err.replace("argument ", "")


def nan_checkpoint(path):
    model = VAE_Model(**TINY_WIDTHS)
    state = {k: v.fill_(float("nan")) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    save_checkpoint(path, {"model": state, "epoch": 1, "config": dict(TINY_WIDTHS)})
    return path


def tiny_answer(path, value=0):
    """An answer/submission CSV of 1 video x 2 frames of 3x4x4 pixels."""
    return write_submission(np.full((1, 2, 3, 4, 4), value, dtype=np.int64), path)


SIZE = ["--frame_H", "4", "--frame_W", "4", "--frames_per_video", "2"]
RUN = ["--DR", "{data}", "--device", "cpu", "--save_root", "{tmp}/run", *TINY_WIDTH_FLAGS, "--train_vi_len", "4",
       "--val_vi_len", "20"]
BAD_INPUT = [  # (cli, argv with {tmp} and {data}, message); {tmp}/folder is a folder, {tmp}/a_file a file
    ("Trainer", ["--save_root", "{tmp}/a_file", "--device", "cpu"], "is a file, not a folder"),
    ("Trainer", ["--save_root", "{tmp}/a_file/run", "--device", "cpu"], "cannot write to --save_root"),
    ("Tester", ["--frame_H", "30", "--ckpt_path", "x.pt"], "Kaggle submission format is fixed at 32x64"),
    ("Tester", ["--ckpt_path", "{tmp}/folder", "--device", "cpu"], "is a folder, not a file"),
    ("val_PSNR", ["--ckpt_path", "{tmp}/folder", "--device", "cpu"], "is a folder, not a file"),
    ("val_PSNR", ["--ckpt_path", "x.pt", "--num_samples", "0"], "--num_samples: must be an integer >= 1"),
    ("score", ["{tmp}/folder", "--answer", "{tmp}/answer.csv", *SIZE], "is a folder, not a file"),
    ("score", ["x.csv", "--DR", "{data}", "--frames_per_video", "5"], "the test videos of .* have 20 frames each"),
    ("Trainer", [*RUN, "--arch", "pyramid", "--frame_H", "30", "--frame_W", "62"],
     "--arch pyramid needs --frame_H and --frame_W divisible by 4, got 30x62 .e.g. 28x60"),
    ("Trainer", [*RUN, "--train_vi_len", "60", "--batch_size", "1"],
     "train_img has 48 frames: fewer than one clip of 60 frames .--train_vi_len.$"),
    ("Trainer", [*RUN, "--batch_size", "100"], "12 training clips per epoch .of 12; --partial 1.0. fill no batch of "
                                             "--batch_size 100: lower --batch_size"),
    ("score", ["{tmp}/answer.csv", "--answer", "{tmp}/answer.csv", *SIZE, "--json", "{tmp}/nope/dir/s.json"],
     "cannot write .*s.json: the folder .*nope/dir does not exist"),
    ("make_dataset", ["synthetic", "--out", "{tmp}/a_file"], "is a file, not a folder"),
    ("make_dataset", ["import", "--pair", "a.gif", "b.gif", "--out", "{tmp}/a_file"], "is a file"),
] + [("score", [f"{{tmp}}/bad{value}.csv", "--answer", "{tmp}/answer.csv", *SIZE],
      f"line 2, column 2: value {value:g} is not an integer pixel value in 0..255") for value in (256, -1, 12.5)]


@pytest.mark.parametrize("cli, argv, message", BAD_INPUT)
def test_bad_input_matrix(cli, argv, message, tmp_path, tiny_dataset, capsys):
    (tmp_path / "folder").mkdir()
    (tmp_path / "a_file").write_text("")
    answer = tiny_answer(tmp_path / "answer.csv")
    for value in (256, -1, 12.5):  # the answer with one pixel of line 2 replaced
        header, first, rest = answer.read_text().split("\n", 2)
        (tmp_path / f"bad{value}.csv").write_text("\n".join([header, first.replace("0,0,", f"0,{value},", 1), rest]))
    err = expect_exit(cli, [a.format(tmp=tmp_path, data=tiny_dataset) for a in argv], capsys)
    assert re.search(message, err), err


def test_a_nan_checkpoint_makes_no_submission_and_no_report(tmp_path, capsys):
    make_test_split(tmp_path / "data", n_videos=1, n_frames=4)
    ckpt = nan_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    err = expect_exit("Tester", ["--DR", str(tmp_path / "data"), "--ckpt_path", str(ckpt), "--device", "cpu",
                                 "--test_vi_len", "4"], capsys)
    assert "NaN/inf values" in err and "weight tensors of the checkpoint hold NaN" in err
    assert not (tmp_path / "run" / "submission.csv").exists()

    for folder in ("val_img", "val_label"):  # a 4-frame validation video: the test video's frames
        shutil.copytree(tmp_path / "data" / "test" / "test_img_gt" / "0", tmp_path / "data" / "val" / folder)
    err = expect_exit("val_PSNR", ["--DR", str(tmp_path / "data"), "--ckpt_path", str(ckpt), "--device", "cpu",
                                   "--val_vi_len", "4"], capsys)
    assert "NaN/inf values" in err
    assert not list((tmp_path / "run").glob("val_psnr_*"))


@pytest.mark.parametrize("cli, inner, argv", [
    ("Trainer", "fit", ["--device", "cpu"]),
    ("Tester", "make_submission", ["--device", "cpu"]),
    ("val_PSNR", "val_psnr_report", ["--device", "cpu"]),
    ("score", "load_answer", ["x.csv"]),
    ("make_dataset", "run_synthetic", ["synthetic"]),
])
def test_ctrl_c_exits_130(cli, inner, argv, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(CLIS[cli], inner, interrupted)
    expect_exit(cli, argv, capsys, code=130)


def test_the_finite_check_tells_broken_weights_from_an_overflowing_rollout():
    from modules.errors import UserInputError
    from modules.eval.rollout import require_finite
    with pytest.raises(UserInputError, match="rollout itself overflowed"):
        require_finite(torch.tensor([float("inf")]), "x.pt", VAE_Model(**TINY_WIDTHS))


def test_num_workers_beyond_the_cpus_are_lowered_with_a_note(capsys):
    cpus = len(os.sched_getaffinity(0))
    assert parse_train_args(["--num_workers", "99999999999999999999"]).num_workers == cpus
    assert f"--num_workers 99999999999999999999 lowered to {cpus}" in capsys.readouterr().err
    assert parse_train_args(["--num_workers", "0"]).num_workers == 0


def test_the_width_bound_of_the_flags_is_the_stored_configs():
    from modules import architectures, config
    assert architectures.MAX_WIDTH == config.MAX_WIDTH


@pytest.mark.parametrize("flags, message", [
    (["--preset", "cpu_quick", "--arch", "pyramid"],
     r"--fix_leaky_relu True, --output_mode anchored \(set by --preset cpu_quick\): only for --arch template"),
    (["--arch", "pyramid", "--output_mode", "anchored"], r"--output_mode anchored: only for --arch template"),
    (["--lr_schedule", "cosine", "--lr_warmup", "1e20", "--num_epoch", "2"],
     r"--lr_warmup 1e\+20 epochs covers the whole 2-epoch schedule"),
    (["--augment", "none", "shift"], r"--augment none shift: none means no augmentation, give it alone"),
])
def test_flags_the_run_cannot_use_are_refused_before_any_data(flags, message, tmp_path):
    from modules.train.setup import prepare
    with pytest.raises(UserInputError, match=message):
        prepare(parse_train_args([*flags, "--device", "cpu", *TINY_WIDTH_FLAGS]))


def test_flags_that_change_nothing_are_named(capsys):
    from modules.config import check_flags_fit
    check_flags_fit(parse_train_args(["--lr_warmup", "3", "--tfr", "0.5"]))
    check_flags_fit(parse_train_args(["--preset", "cpu_pyramid", "--milestones", "1", "--tfr", "0.5"]))
    check_flags_fit(parse_train_args(["--preset", "cpu_pyramid"]))  # its own values: nothing to say
    assert capsys.readouterr().out.splitlines() == [
        "note: --lr_warmup 3.0 changes nothing here: only for --lr_schedule cosine",
        "note: --milestones 1 changes nothing here: --lr_schedule cosine sets the lr",
        "note: --tfr 0.5 changes nothing here: --arch pyramid decodes every frame from frame 0"]
