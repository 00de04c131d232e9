"""experiments.py: a two-setting, two-epoch experiment on a tiny synthetic set, resumed and redrawn."""
import json

import pytest

import experiments
import modules.ablation.layout as layout
import modules.ablation.runner as exp
import modules.train.loop as training
from conftest import TINY_WIDTH_FLAGS
from modules.ablation.compare import TABLE_HEADER
from modules.errors import UserInputError
from modules.train.runlog import read_metrics

TINY = [*TINY_WIDTH_FLAGS, "--device", "cpu", "--num_workers", "0", "--train_vi_len", "4", "--val_vi_len", "20",
        "--batch_size", "2", "--partial", "0.5", "--num_epoch", "2"]
SETTINGS = {"tf_on": "--tfr 1 --tfr_sde 1 --tfr_d_step 1", "tf_off": "--tfr 0"}
PLOTS = ("tf", "tf_train_loss", "tf_val_loss", "tf_val_psnr", "tf_val_moving_psnr", "tf_val_vacated_psnr",
         "tf_val_silhouette_iou", "tf_beta", "tf_tfr", "tf_psnr_per_frame")


@pytest.fixture(scope="module")
def tiny_dataset(make_tiny_dataset):
    return make_tiny_dataset(n_train_videos=1, train_video_len=16)


def invoke(out, dataset, *extra):
    argv = ["--out", str(out), "--no_defaults", "--compare", "tf=tf_on,tf_off", "--DR", str(dataset), *TINY]
    for name, flags in SETTINGS.items():
        argv += ["--setting", f"{name}={flags}"]
    experiments.main(argv + list(extra))


def count_epochs(monkeypatch, interrupt_at=None):
    """Count train_one_epoch calls; raise Ctrl-C inside call number ``interrupt_at``."""
    calls = []
    original = training.train_one_epoch

    def counted(*args, **kwargs):
        calls.append(kwargs["desc"])
        if len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "train_one_epoch", counted)
    return calls


def table_rows(results_md):
    """{run: {column: cell}} of the Markdown table in results.md."""
    lines = [line for line in results_md.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert tuple(header) == TABLE_HEADER
    rows = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[1:]]
    return {row["run"]: row for row in rows}


def test_experiment_runs_resumes_and_redraws_from_files(tiny_dataset, tmp_path, monkeypatch):
    out = tmp_path / "exp"
    # 1) Ctrl-C in the second epoch of the second run: the set stops, rerunning resumes it.
    calls = count_epochs(monkeypatch, interrupt_at=4)
    with pytest.raises(SystemExit) as stopped:
        invoke(out, tiny_dataset)
    assert stopped.value.code == 130 and len(calls) == 4
    assert len(read_metrics(out / "runs" / "tf_off" / "metrics.csv")) == 1

    calls = count_epochs(monkeypatch)
    invoke(out, tiny_dataset)
    assert calls == ["epoch 2/2"]  # only tf_off's unfinished epoch

    for name in [f"{p}.png" for p in PLOTS] + ["results.md", "experiment.json"]:
        assert (out / name).is_file(), name
    assert not (out / "all.png").exists()  # "tf" already overlays every run
    table = table_rows((out / "results.md").read_text())
    assert list(table) == ["tf_on", "tf_off", "copying frame 0"]
    for name, flags in SETTINGS.items():
        rows = read_metrics(out / "runs" / name / "metrics.csv")
        best = max(rows, key=lambda r: r["val_psnr"])
        row = table[name]
        assert [r["epoch"] for r in rows] == [0, 1] and row["epochs"] == "2"
        assert row["final val PSNR (dB)"] == f"{rows[-1]['val_psnr']:.2f}"
        assert row["best val PSNR (dB)"] == f"{best['val_psnr']:.2f}"
        assert row["best epoch"] == str(best["epoch"] + 1)
        assert row["settings"] == f"`{flags}`"
        # The best checkpoint re-scored after training reproduces its validation in training.
        scored = json.loads((out / "runs" / name / layout.EVAL_FILE).read_text())
        assert len(scored["psnr_per_frame"]) == len(scored["ssim_per_frame"]) == 19
        assert row["Kaggle-style PSNR (dB)"] == f"{scored['kaggle_psnr']:.2f}"
        assert row["SSIM"] == f"{scored['ssim']:.4f}"
        assert row["moving-pixel PSNR (dB)"] == f"{scored['moving_psnr']:.2f}"
        assert row["vacated-region PSNR (dB)"] == f"{scored['vacated_psnr']:.2f}"
        assert row["silhouette IoU"] == f"{scored['silhouette_iou']:.3f}"
        assert table["copying frame 0"]["final val PSNR (dB)"] == f"{scored['copy_psnr']:.2f}"
        assert table["copying frame 0"]["moving-pixel PSNR (dB)"] == f"{scored['copy_moving_psnr']:.2f}"
        assert table["copying frame 0"]["vacated-region PSNR (dB)"] == f"{scored['copy_vacated_psnr']:.2f}"
        assert sum(scored["psnr_per_frame"]) / 19 == pytest.approx(best["val_psnr"], abs=1e-4)
    assert [r["tfr"] for r in read_metrics(out / "runs" / "tf_on" / "metrics.csv")] == [1.0, 0.0]

    # 2) A second invocation trains and scores nothing.
    outputs = [out / "runs" / n / f for n in SETTINGS for f in ("metrics.csv", "checkpoints/last.pt", layout.EVAL_FILE)]
    stamps = [p.stat().st_mtime_ns for p in outputs]
    calls = count_epochs(monkeypatch)
    monkeypatch.setattr(exp, "analyse", lambda *a, **k: pytest.fail("re-scored a finished run"))
    invoke(out, tiny_dataset)
    assert calls == [] and [p.stat().st_mtime_ns for p in outputs] == stamps

    # 3) --plot_only redraws plots and the same table from the files alone.
    results = (out / "results.md").read_text()
    for png in out.glob("*.png"):
        png.unlink()
    (out / "results.md").unlink()
    monkeypatch.setattr(exp, "fit", lambda cfg: pytest.fail("trained in --plot_only"))
    experiments.main(["--plot_only", "--out", str(out)])
    assert (out / "results.md").read_text() == results
    assert all((out / f"{p}.png").is_file() for p in PLOTS)

    # 4) The same folder with other settings is refused, not silently reused.
    with pytest.raises(SystemExit) as refused:
        invoke(out, tiny_dataset, "--lr", "0.01")
    assert refused.value.code == 2


def test_default_set_is_the_reports_ablation_rescaled_to_the_budget():
    plan = exp.build_plan(exp.base_flags(extra=["--num_epoch", "30"]))
    assert list(plan.settings) == ["tf_monotonic", "notf_monotonic", "tf_cyclical", "tf_none"]
    assert plan.comparisons == {"teacher_forcing": ["tf_monotonic", "notf_monotonic"],
                                "kl_annealing": ["tf_monotonic", "tf_cyclical", "tf_none"],
                                "all": list(plan.settings)}
    cfgs = {name: exp.run_config(plan.base, flags, "x") for name, flags in plan.settings.items()}
    assert all(c.preset == "cpu_quick" and c.seed == 0 and c.num_epoch == 30 for c in cfgs.values())
    # The report: tfr 1, tfr_sde 10, tfr_d_step 0.1; Cyclical with 10 cycles of 3 epochs.
    for name in ("tf_monotonic", "tf_cyclical", "tf_none"):
        assert (cfgs[name].tfr, cfgs[name].tfr_sde, cfgs[name].tfr_d_step) == (1.0, 10, 0.1)
    assert cfgs["notf_monotonic"].tfr == 0
    assert [cfgs[n].kl_anneal_type for n in plan.settings] == ["Monotonic", "Monotonic", "Cyclical", "None"]
    assert cfgs["tf_cyclical"].kl_anneal_cycle == 10
    short = exp.build_plan(exp.base_flags(extra=["--num_epoch", "6"]))
    assert exp.run_config(short.base, short.settings["tf_monotonic"], "x").tfr_d_step == 0.5


def test_settings_from_a_config_file_and_flags(tmp_path):
    config = tmp_path / "more.json"
    config.write_text(json.dumps({"settings": {"late_tf": "--tfr 1 --tfr_sde 4", "adamw": ["--optim", "AdamW"]},
                                  "comparisons": {"optim": ["tf_monotonic", "adamw"]}}))
    base = exp.base_flags(extra=["--num_epoch", "6"])
    plan = exp.build_plan(base, config_files=[config], settings=[exp.parse_setting("adamw=--optim AdamW --lr 3e-3")])
    assert list(plan.settings)[-2:] == ["late_tf", "adamw"]
    assert plan.settings["adamw"] == ["--optim", "AdamW", "--lr", "3e-3"]  # the flag replaced the file's
    assert plan.comparisons["optim"] == ["tf_monotonic", "adamw"]
    only = exp.build_plan(base, defaults=False, settings=[("a", ["--tfr", "0"]), ("b", [])],
                          comparisons=[("x", ["b", "a"])])
    assert list(only.settings) == ["a", "b"] and only.comparisons == {"x": ["b", "a"]}  # x covers all: no "all"
    with pytest.raises(UserInputError, match="unknown settings"):  # tf_monotonic is a default setting
        exp.build_plan(base, defaults=False, config_files=[config])

    for bad, message in [(["--setting", "a b=--tfr 0"], "name"), (["--setting", "no_flags"], "NAME="),
                         (["--compare", "x=nope"], "unknown settings"), (["--save_root", "elsewhere"], "--save_root"),
                         (["--setting", "a=--ckpt_path x.pt"], "set by the experiment"),
                         (["--setting", "a=--tfr fast"], "invalid Trainer flags")]:
        with pytest.raises(UserInputError, match=message):
            experiments.main.__wrapped__(["--list", "--no_defaults", "--setting", "ok=--tfr 0", *bad])


def test_a_diverged_run_is_recorded_and_not_trained_again(tiny_dataset, tmp_path, monkeypatch):
    original = training.train_one_epoch

    def diverging(*args, **kwargs):
        if kwargs["desc"] == "epoch 2/2":
            raise training.NonFiniteLossError("non-finite loss (loss, recon, kl) = [nan, nan, nan]")
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "train_one_epoch", diverging)
    argv = ["--out", str(tmp_path), "--no_defaults", "--setting", "nan=--tfr 0", "--DR", str(tiny_dataset), *TINY]
    experiments.main(argv)
    assert "non-finite loss" in (tmp_path / "runs" / "nan" / layout.FAILED_FILE).read_text()
    row = table_rows((tmp_path / "results.md").read_text())["nan"]
    assert row["epochs"] == "1 (then non-finite loss)" and row["SSIM"] != "–"  # epoch 1's best.pt is scored

    calls = count_epochs(monkeypatch)
    experiments.main(argv)
    assert calls == []
