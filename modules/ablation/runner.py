"""A named set of training runs with one budget and seed: the report's ablations as one command.

An experiment is shared *base* flags (Trainer.py's flags, e.g. ``--preset cpu_quick --seed 0``)
plus named *settings*, each a group of Trainer flags applied on top of the base. Every setting is
one run, trained by :func:`modules.training.fit` into ``<out>/runs/<name>/``; *comparisons* are
named lists of settings drawn together by :mod:`modules.compare`.

Runs are resumable: a finished run (``num_epoch`` rows in metrics.csv and ``checkpoints/last.pt``
at epoch ``num_epoch``) is not trained again, an unfinished one continues exactly from its
``last.pt``. After training, each run's best checkpoint is scored once on the validation video
(``best_eval.json``), so the comparison step only reads files.

Output layout::

    <out>/experiment.json              the plan: base flags, settings, comparisons
    <out>/runs/<name>/                 one fit() run folder (metrics.csv, checkpoints/, curves, GIFs)
    <out>/runs/<name>/best_eval.json   per-frame PSNR, Kaggle-style PSNR, SSIM of checkpoints/best.pt
    <out>/<comparison>.png, <out>/<comparison>_<metric>.png, <out>/results.md   (modules.compare)
"""
import copy
import json
import math
import shlex
from pathlib import Path

import torch

from ..checkpoint import load_checkpoint
from ..config import DEFAULT_EXPERIMENT_PRESET, parse_train_args
from ..data.datasets import dataset_root, load_val_video
from ..errors import UserInputError
from ..eval.inference import load_inference_model
from ..eval.val_psnr import analyse, summarise
from ..io import write_json
from ..runtime import torch_seed
from ..train.loop import NonFiniteLossError, fit
from ..train.runlog import read_metrics
from .compare import write_comparison
from .layout import EVAL_FILE, FAILED_FILE, Plan, check_name, run_dir

# Flags the experiment sets per run (or that make no sense in a set of training runs).
_RESERVED_FLAGS = ("--save_root", "--ckpt_path", "--test")
# Config keys that may differ between the stored run and this invocation without changing the run.
_RUNTIME_KEYS = {"save_root", "ckpt_path", "num_workers", "device", "gpu", "test", "overwrite", "schedule_epochs"}


# -- the default set: the report's two comparisons --------------------------------------------------
def teacher_forcing_flags(num_epoch):
    """The report's teacher forcing (tfr 1, tfr_sde 10, tfr_d_step 0.1 over 30 epochs) rescaled to
    ``num_epoch``: forced for the first third, decaying linearly over the second, off in the last."""
    third = max(1, num_epoch // 3)
    step = math.ceil(1e6 / third) / 1e6  # rounded up: `third` steps reach exactly 0, not 1e-7
    return ["--tfr", "1.0", "--tfr_sde", str(third), "--tfr_d_step", f"{step:.6g}"]


def cyclical_flags(num_epoch):
    """The report's Cyclical annealing (10 cycles of 3 epochs over 30) rescaled: 3-epoch cycles."""
    return ["--kl_anneal_type", "Cyclical", "--kl_anneal_cycle", str(max(1, num_epoch // 3)),
            "--kl_anneal_ratio", "1"]


def default_settings(num_epoch):
    """The report's runs. Teacher forcing on vs off at fixed Monotonic annealing; Monotonic vs
    Cyclical vs None at fixed teacher forcing (on). ``tf_monotonic`` belongs to both comparisons,
    so the set is four runs."""
    tf_on = teacher_forcing_flags(num_epoch)
    return {
        "tf_monotonic": tf_on + ["--kl_anneal_type", "Monotonic"],
        "notf_monotonic": ["--tfr", "0"] + ["--kl_anneal_type", "Monotonic"],
        "tf_cyclical": tf_on + cyclical_flags(num_epoch),
        "tf_none": tf_on + ["--kl_anneal_type", "None"],
    }


DEFAULT_COMPARISONS = {
    "teacher_forcing": ["tf_monotonic", "notf_monotonic"],
    "kl_annealing": ["tf_monotonic", "tf_cyclical", "tf_none"],
}
ALL = "all"


# -- building a plan from flags and config files -----------------------------------------------------
def as_flags(value, where):
    """A setting's flags from a string (shell-split) or a list of strings."""
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise UserInputError(f"{where}: a setting is a string of flags or a list of strings, got {value!r}")


def parse_setting(text):
    """``name=--flag value ...`` -> (name, [flags])."""
    name, sep, flags = text.partition("=")
    if not sep:
        raise UserInputError(f"--setting {text!r}: expected NAME=\"--flag value ...\"")
    return check_name(name.strip()), as_flags(flags, f"--setting {name}")


def parse_comparison(text):
    """``name=run_a,run_b`` -> (name, [run names])."""
    name, sep, runs = text.partition("=")
    runs = [r.strip() for r in runs.split(",") if r.strip()]
    if not sep or not runs:
        raise UserInputError(f"--compare {text!r}: expected NAME=run_a,run_b,...")
    return check_name(name.strip(), "comparison"), runs


def load_config_file(path):
    """A JSON file ``{"settings": {name: flags}, "comparisons": {name: [runs]}}`` (both optional;
    flags as a string or a list). Returns (settings, comparisons)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise UserInputError(f"cannot read {path}: {err.strerror or err}") from err
    except ValueError as err:
        raise UserInputError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or set(data) - {"settings", "comparisons"}:
        raise UserInputError(f"{path}: expected an object with the keys 'settings' and/or 'comparisons'")
    settings = {check_name(k): as_flags(v, f"{path}: setting {k}") for k, v in data.get("settings", {}).items()}
    comparisons = {}
    for name, runs in data.get("comparisons", {}).items():
        if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
            raise UserInputError(f"{path}: comparison {name} must be a list of setting names")
        comparisons[check_name(name, "comparison")] = runs
    return settings, comparisons


def base_flags(preset=DEFAULT_EXPERIMENT_PRESET, seed=0, extra=()):
    """Shared flags: the preset, the seed, then any extra Trainer flags (later flags win)."""
    flags = (["--preset", preset] if preset and preset != "none" else []) + ["--seed", str(seed)] + list(extra)
    for flag in _RESERVED_FLAGS:
        if any(f == flag or f.startswith(flag + "=") for f in flags):
            raise UserInputError(f"{flag} is set by the experiment for each run; leave it out")
    try:
        parse_train_args(flags)  # fail early on a bad flag
    except SystemExit as err:  # argparse has printed what is wrong
        raise UserInputError(f"invalid shared Trainer flags {shlex.join(flags)}") from err
    return flags


def build_plan(base, *, defaults=True, settings=(), config_files=(), comparisons=()):
    """The plan of one invocation: the default set (unless ``defaults`` is False), then settings of
    config files, then ``settings`` (name, flags) pairs; a later setting of the same name replaces an
    earlier one. An ``all`` comparison overlays every run unless another one already does."""
    num_epoch = parse_train_args(base).num_epoch
    plan_settings = dict(default_settings(num_epoch)) if defaults else {}
    plan_comparisons = dict(DEFAULT_COMPARISONS) if defaults else {}
    for path in config_files:
        more_settings, more_comparisons = load_config_file(path)
        plan_settings.update(more_settings)
        plan_comparisons.update(more_comparisons)
    plan_settings.update(dict(settings))
    plan_comparisons.update(dict(comparisons))
    if not plan_settings:
        raise UserInputError("no settings to run: drop --no_defaults or add --setting/--config")
    for name, flags in plan_settings.items():
        if any(f.split("=")[0] in _RESERVED_FLAGS for f in flags):
            raise UserInputError(f"setting {name}: {', '.join(_RESERVED_FLAGS)} are set by the experiment")
        try:
            run_config(base, flags, Path("."))  # fail early on a bad flag
        except SystemExit as err:  # argparse has printed what is wrong
            raise UserInputError(f"setting {name}: invalid Trainer flags {shlex.join(flags)}") from err
    for name, runs in plan_comparisons.items():
        unknown = [r for r in runs if r not in plan_settings]
        if unknown:
            raise UserInputError(f"comparison {name} names unknown settings {unknown} "
                                 f"(known: {', '.join(plan_settings)})")
    if not any(set(runs) == set(plan_settings) for runs in plan_comparisons.values()):
        plan_comparisons.setdefault(ALL, list(plan_settings))
    return Plan(base=list(base), settings=plan_settings, comparisons=plan_comparisons)


# -- running -------------------------------------------------------------------------------------
def run_config(base, flags, folder):
    """The Trainer config of one run: base flags, then the setting's flags, then its folder."""
    return parse_train_args(list(base) + list(flags) + ["--save_root", str(folder)])


def run_status(cfg):
    """``done``, ``failed`` (stopped on a non-finite loss), ``resume`` (a last.pt before num_epoch)
    or ``new`` for the run folder of ``cfg``.

    Raises UserInputError when the folder holds a run trained with other settings.
    """
    folder = Path(cfg.save_root)
    last = folder / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(last) if last.is_file() else None
    if ckpt is not None:
        stored, wanted = ckpt.get("config", {}), vars(cfg)
        changed = sorted(k for k in wanted if k not in _RUNTIME_KEYS and k in stored and stored[k] != wanted[k])
        if changed:
            diffs = ", ".join(f"{k}: {stored[k]!r} there, {wanted[k]!r} now" for k in changed[:6])
            raise UserInputError(f"{folder} holds a run trained with other settings ({diffs}); use another "
                                 f"--out or delete that run folder")
    if (folder / FAILED_FILE).is_file():
        return "failed"
    if ckpt is None:
        return "new"
    epochs = [row["epoch"] for row in read_metrics(folder / "metrics.csv")]
    if ckpt["epoch"] < cfg.num_epoch:
        return "resume"
    if epochs != list(range(cfg.num_epoch)):
        raise UserInputError(f"{folder}: checkpoints/last.pt is at epoch {ckpt['epoch']} but metrics.csv has "
                             f"epochs {epochs[:3]}...{epochs[-3:]}; delete the run folder to train it again")
    return "done"


class ExperimentInterrupted(Exception):
    """A run stopped before its last epoch (Ctrl-C); running the same command again resumes it."""


def train_run(cfg):
    """Train or resume one run to ``cfg.num_epoch``. Returns the status it was found in."""
    status = run_status(cfg)
    if status in ("done", "failed"):
        return status
    if status == "resume":
        # last.pt, not interrupted.pt: last.pt continues exactly where the finished epochs left off.
        cfg.ckpt_path = str(Path(cfg.save_root) / "checkpoints" / "last.pt")
    else:
        # fit() builds the model from the global RNG: without this, a run's initial weights would
        # depend on how many runs this process trained before it.
        torch.manual_seed(torch_seed(cfg.seed))
        # A "new" run's folder may hold what a Ctrl-C in its first epoch left (interrupted.pt): the
        # runner owns its run folders, so it starts such a run over.
        cfg.overwrite = True
    try:
        fit(cfg)
    except UserInputError as err:
        if not isinstance(err.__cause__, NonFiniteLossError):
            raise
        # Deterministic: training it again would diverge again. The set goes on; the table says so.
        write_json(Path(cfg.save_root) / FAILED_FILE, {"error": str(err)})
        return "failed"
    cfg.ckpt_path = None
    if run_status(cfg) != "done":
        raise ExperimentInterrupted(f"{cfg.save_root} stopped before epoch {cfg.num_epoch}: run the same "
                                    f"command again to resume it")
    return status


def evaluate_checkpoint(ckpt_path, cfg):
    """Score the model of ``ckpt_path`` on the validation video with val_PSNR.py's analysis: one
    prior-sampled rollout seeded like validation in training, so ``val_psnr`` equals the run's
    metrics.csv value for that epoch. Returns ``val_psnr``, ``psnr_per_frame`` and ``ssim_per_frame``
    (frames 1..T-1), ``kaggle_psnr`` (8-bit, frames 1..600), ``ssim`` (mean), the moving- and
    vacated-region PSNRs and the silhouette IoU, and copying frame 0's."""
    eval_cfg = copy.copy(cfg)  # load_inference_model writes the checkpoint's network flags into it
    eval_cfg.ckpt_path = str(ckpt_path)
    model, device, _ = load_inference_model(eval_cfg)
    frames, poses = load_val_video(dataset_root(cfg.DR), (cfg.frame_H, cfg.frame_W), cfg.val_vi_len)
    result = analyse(model, frames.to(device), poses.to(device), mode="prior", num_samples=1, seed=cfg.seed,
                     amp=cfg.amp)
    summary = summarise(result, mode="prior", num_samples=1, seed=cfg.seed)
    return {"val_psnr": summary["avg_psnr"], "kaggle_psnr": summary["kaggle_psnr"], "ssim": summary["ssim"],
            **{k: summary[k] for k in ("moving_psnr", "vacated_psnr", "silhouette_iou", "copy_psnr",
                                       "copy_moving_psnr", "copy_vacated_psnr", "copy_silhouette_iou")},
            "psnr_per_frame": result["psnr"][0].tolist(), "ssim_per_frame": result["ssim"][0].tolist()}


def evaluate_run(cfg):
    """Score ``checkpoints/best.pt`` of a finished run once: writes and returns ``best_eval.json``.

    Kept while its checkpoint is unchanged (same stored epoch), recomputed otherwise.
    """
    folder = Path(cfg.save_root)
    best = folder / "checkpoints" / "best.pt"
    path = folder / EVAL_FILE
    epoch = load_checkpoint(best)["epoch"]
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored.get("checkpoint_epoch") == epoch:
            return stored
    result = {"checkpoint": "checkpoints/best.pt", "checkpoint_epoch": epoch, **evaluate_checkpoint(best, cfg)}
    write_json(path, result)
    return result


def run_experiment(plan, out, *, log=print):
    """Train (or resume) every run of ``plan`` into ``out``, score each best checkpoint, then draw
    the comparison. Returns {run name: status found (new / resume / done / failed)}. A run that
    diverges (non-finite loss) is recorded in its ``failed.json`` and the set goes on."""
    out = Path(out)
    cfgs = {name: run_config(plan.base, flags, run_dir(out, name)) for name, flags in plan.settings.items()}
    for cfg in cfgs.values():
        run_status(cfg)  # refuse a folder of other settings before anything is written
    plan.save(out)
    statuses = {}
    for i, (name, cfg) in enumerate(cfgs.items(), start=1):
        log(f"[{i}/{len(cfgs)}] {name}: {shlex.join(plan.settings[name])}")
        statuses[name] = train_run(cfg)
        if statuses[name] == "done":
            log("  finished before: not trained again")
        if statuses[name] == "failed":
            log(f"  stopped on a non-finite loss: see {run_dir(out, name) / FAILED_FILE} (delete the run "
                f"folder to train it again)")
        if (run_dir(out, name) / "checkpoints" / "best.pt").is_file():
            evaluate_run(cfg)
    paths = write_comparison(out)
    log(f"comparison: {out / 'results.md'} and {len(paths) - 1} plots in {out}")
    return statuses
