"""The training loop: one epoch of training, validation, logging and checkpoints, epoch after epoch.

``fit(cfg)`` is what Trainer.py runs. Every epoch reseeds its random streams from
(seed, epoch), so a run resumed from a checkpoint repeats exactly what the uninterrupted run did.
Under torchrun (docs/distributed.md) each process trains on its share of the clips through
DistributedDataParallel, and only rank 0 validates, prints and writes files.
"""
import math
import random
import time
from contextlib import ExitStack
from pathlib import Path

import torch
from tqdm import tqdm

from ..checkpoint import save_checkpoint
from ..console import Progress
from ..data.datasets import dataset_root, load_datasets, load_val_video
from ..errors import UserInputError
from ..eval.inference import default_output_dir
from ..eval.media import save_gif
from ..eval.rollout import require_finite, rollout_and_score
from ..io import copy_file
from ..composite import diagnostics, selection_stats
from ..objective import candidate_loss, cvae_loss
from ..runtime import autocast_context
from ..schedules import kl_beta, teacher_forcing_ratio
from ..signals import saving_despite_signals
from . import distributed
from .plots import plot_training_curves
from .report import next_steps, start_message
from .runfolder import claimed_run_folder, resume_folder
from .runlog import COLUMNS, Run, append_metrics, default_save_root
from .setup import (batch_lr, make_grad_scaler, prepare, resume_with_the_runs_flags, seed_epoch, size_in_steps,
                    train_loader_for_epoch, training_state)
from .tensorboard import LOG_DIR, NoLog, check_requested, open_log


MAX_GRAD_NORM = 1.0  # the template's gradient clipping


class NonFiniteLossError(RuntimeError):
    """The training loss or the validation rollout became NaN or infinite."""


# -- one epoch of training, one validation rollout -------------------------------------------------
def train_one_epoch(model, loader, optimizer, *, beta, tfr, cfg, device, rng, desc="train", scaler=None, lr_at=None):
    """Train over ``loader`` once. Returns the epoch means of loss, recon, kl, the share of
    teacher-forced steps and the output head's diagnostics. Raises NonFiniteLossError before
    stepping on a NaN/inf loss.

    ``scaler``: a GradScaler for --amp fp16 (whose small gradients underflow without one); made
    here when not given, a pass-through otherwise. ``lr_at``: batch index -> learning rate, set
    before each step (--lr_schedule cosine). Teacher forcing is the template's: one coin with
    probability ``tfr`` for the whole epoch."""
    model.train()
    if scaler is None:
        scaler = make_grad_scaler(device, getattr(cfg, "amp", "none"))
    totals = torch.zeros(3, dtype=torch.float64)
    selection = torch.zeros(4, dtype=torch.float64, device=device)
    batches = 0
    forced = rng.random() < tfr
    bar = tqdm(loader, desc=desc, leave=False, disable=None if distributed.is_main_process() else True,
               dynamic_ncols=True)
    progress = Progress(desc, len(loader), enabled=distributed.is_main_process())  # when the bar is silent
    for frames, poses in bar:
        frames, poses = frames.to(device, non_blocking=True), poses.to(device, non_blocking=True)
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(batches)
        optimizer.zero_grad(set_to_none=True)
        with autocast_context(device, cfg.amp):
            pred, mu, logvar, parts = model(frames, poses, forced, with_parts=True)
        terms = cvae_loss(pred, frames[:, 1:], mu, logvar, beta, cfg.kl_reduction)
        loss = terms["loss"] + candidate_loss(parts, frames[:, 1:])
        stats = torch.stack([loss, terms["recon"], terms["kl"]]).detach().double().cpu()
        # All ranks decide together, before any of them enters backward's gradient all-reduce.
        if not distributed.all_ranks(torch.isfinite(stats).all()):
            raise NonFiniteLossError(f"non-finite loss (loss, recon, kl) = {stats.tolist()} at batch {batches}")
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        scaler.step(optimizer)
        scaler.update()
        totals += stats
        selection += selection_stats(parts, frames)
        batches += 1
        bar.set_postfix(loss=f"{stats[0]:.4f}", beta=f"{beta:.3g}", tfr=f"{tfr:.2f}")
        progress.update(batches, loss=float(stats[0]))
    if batches == 0:
        raise UserInputError("no training clips: lower --train_vi_len or raise --partial")
    # Every rank has run the same number of batches, so the mean of the ranks' means is the mean.
    loss, recon, kl = distributed.mean_over_ranks(totals / batches).tolist()
    return {"train_loss": loss, "train_recon": recon, "train_kl": kl, "teacher_forcing": float(forced),
            **diagnostics(selection)}


def validate(model, frames, poses, *, seed=0, amp="none"):
    """Score one prior-sampled rollout of the validation video (T, 3, H, W): the metrics.csv values
    (``val_loss`` = rollout MSE, ``val_psnr``, ``val_moving_psnr``, ``val_vacated_psnr``,
    ``val_silhouette_iou``, ``val_ssim``, the copy-frame-0 baselines), ``psnr_per_frame`` (T-1,) and the
    generated ``video`` (T, 3, H, W) on the CPU."""
    was_training = model.training
    result = rollout_and_score(model, frames, poses, seed=seed, amp=amp)
    model.train(was_training)
    return {"val_loss": float(result["mse"][0]), "val_psnr": float(result["psnr"][0].mean()),
            "psnr_per_frame": result["psnr"][0],
            "val_moving_psnr": float(result["moving_psnr"][0]), "val_ssim": float(result["ssim"][0].mean()),
            "copy_psnr": result["copy"]["psnr"], "copy_moving_psnr": result["copy"]["moving_psnr"],
            "val_vacated_psnr": float(result["vacated_psnr"][0]),
            "val_silhouette_iou": float(result["silhouette_iou"][0]),
            "copy_vacated_psnr": result["copy"]["vacated_psnr"],
            "copy_silhouette_iou": result["copy"]["silhouette_iou"],
            "video": result["videos"][0]}


def rollout_panel(video, frames, poses):
    """Side by side for a GIF: ground truth | prediction | pose, each (T, 3, H, W) -> (T, 3, H, 3W)."""
    return torch.cat([frames, video, poses], dim=-1)


# -- the run -------------------------------------------------------------------------------------
def fit(cfg):
    """Train as the flags say; returns the run folder. Writes after every epoch: metrics.csv,
    the curves, a GIF of the validation rollout, ``last``/``best``/periodic checkpoints.

    Under torchrun every process runs this; see :func:`_fit_in_process_group`.
    """
    resume_with_the_runs_flags(cfg)
    distributed.check_launch(cfg.gpu)
    check_requested(cfg)  # before the dataset is generated or decoded
    with distributed.process_group(cfg.device, cfg.ddp_timeout):
        return _fit_in_process_group(cfg)


def _fit_in_process_group(cfg):
    """The training run of one process. With several (DDP), the training pass goes through the
    DDP wrapper while ``model`` (the same parameters, unwrapped) validates and is saved, so no
    ``module.`` prefix reaches a checkpoint; rank 0 alone validates and writes, and the others
    take its best PSNR."""
    main = distributed.is_main_process()
    cfg.save_root = distributed.broadcast_from_main(str(run_folder_of(cfg)) if main else None)
    with ExitStack() as stack:
        # Rank 0 alone writes, so it alone claims the folder (lock, no overwriting, temp-file clean-up);
        # a refusal reaches every rank, so none waits for rank 0 in a collective.
        refused = None
        if main:
            try:
                stack.enter_context(claimed_run_folder(cfg.save_root, ckpt_path=cfg.ckpt_path,
                                                       overwrite=cfg.overwrite))
            except UserInputError as err:
                refused = str(err)
        refused = distributed.broadcast_from_main(refused)
        if refused:
            raise UserInputError(refused)
        return _train(cfg, main)


def run_folder_of(cfg):
    """--save_root; when resuming without one, the run folder of the checkpoint (so the resumed run
    goes on in its own folder; a new one when the checkpoint is from before that run's end); else a new
    runs/<date-time>."""
    if cfg.save_root:
        return Path(cfg.save_root)
    return resume_folder(cfg.ckpt_path, default_output_dir(cfg.ckpt_path)) if cfg.ckpt_path else default_save_root()


def _train(cfg, main):
    with distributed.main_process_first():  # the synthetic dataset is generated once
        root = dataset_root(cfg.DR)
    run = Run(cfg.save_root, create=main)
    with distributed.main_process_first():  # rank 0 writes the frame cache, the others read it
        train_set, val_set = load_datasets(root, (cfg.frame_H, cfg.frame_W), cfg.train_vi_len,
                                             cfg.val_vi_len, cfg.anchor_gap, cfg.augment)
    steps_note = size_in_steps(cfg, len(train_set))
    device, model, optimizer, scheduler, start_epoch, best_psnr = prepare(cfg)
    if main:
        best_psnr = check_best_checkpoint(run, best_psnr)
    if main:
        val_frames, val_poses = (x.to(device) for x in val_set[0])
    log = open_log(cfg, run.root / LOG_DIR, start_epoch, main)
    if main:
        print(start_message(cfg, run, device, len(train_set), start_epoch, steps_note), flush=True)
    train_step_model = distributed.wrap(model, device)
    scaler = make_grad_scaler(device, cfg.amp)  # kept across epochs: its scale adapts over steps
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, cfg.num_epoch):
            started = time.perf_counter()
            seed = seed_epoch(cfg.seed, epoch, distributed.rank())
            beta = kl_beta(epoch, cfg.kl_anneal_type, cfg.schedule_epochs, cfg.kl_anneal_cycle, cfg.kl_anneal_ratio)
            tfr = teacher_forcing_ratio(epoch, cfg.tfr, cfg.tfr_sde, cfg.tfr_d_step)
            loader = train_loader_for_epoch(train_set, cfg, epoch, torch.Generator().manual_seed(seed))
            lr_at = batch_lr(cfg, epoch, len(loader))
            lr = lr_at(0) if lr_at else optimizer.param_groups[0]["lr"]  # the epoch's first batch's
            stats = train_one_epoch(train_step_model, loader, optimizer, beta=beta, tfr=tfr, cfg=cfg,
                                    device=device, rng=random.Random(seed),
                                    desc=f"epoch {epoch + 1}/{cfg.num_epoch}", scaler=scaler, lr_at=lr_at)
            scheduler.step()
            if main:
                val = validate(model, val_frames, val_poses, seed=cfg.seed, amp=cfg.amp) if validates(cfg, epoch) else {}
                if val and not math.isfinite(val["val_psnr"]):
                    raise NonFiniteLossError(f"the validation rollout is not finite (val PSNR {val['val_psnr']})")
                row = {"epoch": epoch, "lr": lr, "beta": beta, "tfr": tfr, **stats,
                       **{k: v for k, v in val.items() if k in COLUMNS}, "seconds": time.perf_counter() - started}
                best_psnr = record_epoch(run, cfg, row, val, val_frames, val_poses, best_psnr,
                                         lambda: training_state(model, optimizer, scheduler, next_epoch=epoch + 1,
                                                                best_psnr=max(best_psnr, val.get("val_psnr", -math.inf)),
                                                                cfg=cfg),
                                         log)
                if epoch == start_epoch and epoch + 1 < cfg.num_epoch:
                    print(time_estimate(row["seconds"], cfg.num_epoch - epoch - 1), flush=True)
            best_psnr = distributed.broadcast_from_main(best_psnr)
    except NonFiniteLossError as err:
        last = run.checkpoint("last")
        kept = (f"the last good checkpoint is {last}" if last.is_file() else
                "no checkpoint was written (no epoch finished)")
        raise UserInputError(f"{err} in epoch {epoch + 1}: training stopped; {kept} (try a lower --lr)") from err
    except KeyboardInterrupt:
        # Under torchrun Ctrl-C reaches every rank; rank 0 saves without waiting on the others
        # (no collective: a peer may already be gone).
        if main:
            path = run.checkpoint("interrupted")
            with saving_despite_signals(path):
                save_checkpoint(path, training_state(model, optimizer, scheduler, next_epoch=epoch,
                                                     best_psnr=best_psnr, cfg=cfg))
            print(f"\ninterrupted in epoch {epoch + 1}: saved {path}; resume with --ckpt_path {path} "
                  f"(the interrupted epoch is trained again from the weights it had reached)")
        raise  # the CLI exits 130, so a chained command does not go on
    finally:
        log.close()
    if main:
        print(f"run folder: {run.root}")
        summary = next_steps(run, cfg)
        if summary:
            print(summary, flush=True)
    return run.root


def check_best_checkpoint(run, best_psnr):
    """A resumed run whose checkpoint records a best PSNR but whose best.pt is gone (deleted, or lost
    to a kill by a version that wrote last.pt first) would never write best.pt again unless it beat
    that score: forget the score, so the next epoch writes best.pt. Returns the best PSNR to go on with."""
    if math.isfinite(best_psnr) and not run.checkpoint("best").is_file():
        print(f"note: the checkpoint records a best val PSNR of {best_psnr:.2f} dB but {run.checkpoint('best')} "
              f"is missing; the next epoch's checkpoint becomes best.pt")
        return -math.inf
    return best_psnr


def validates(cfg, epoch):
    """Whether ``epoch`` (0-based) ends with a validation rollout: every --val_every epochs and the last."""
    return (epoch + 1) % getattr(cfg, "val_every", 1) == 0 or epoch + 1 == cfg.num_epoch


def record_epoch(run, cfg, row, val, frames, poses, best_psnr, make_state, log=NoLog()):
    """Log, plot and checkpoint one finished epoch. Returns the new best PSNR. ``val``: what
    :func:`validate` returned, or {} for an epoch without validation (no GIF, no best.pt); ``log``:
    the run's TensorBoard logger (modules.train.tensorboard)."""
    epoch = row["epoch"]
    append_metrics(run.metrics, row)
    plot_training_curves(run.metrics, run.root)
    panel = rollout_panel(val["video"], frames.cpu(), poses.cpu()) if val else None
    log.log_epoch(row, panel, val.get("psnr_per_frame"))
    if panel is not None:
        save_gif(panel, run.root / "val_rollout.gif", scale=2, palette="shared")
    if panel is not None and cfg.store_visualization:
        (run.root / "gifs").mkdir(exist_ok=True)
        copy_file(run.root / "val_rollout.gif", run.root / "gifs" / f"epoch_{epoch + 1:03d}.gif")
    improved = bool(val) and val["val_psnr"] > best_psnr
    run.save_epoch_checkpoints(make_state(), best=improved,
                               periodic=f"epoch_{epoch + 1:03d}" if (epoch + 1) % cfg.per_save == 0 else None)
    if improved:
        best_psnr = val["val_psnr"]
        copy_file(run.root / "val_rollout.gif", run.root / "val_rollout_best.gif")  # encoded once
    print(epoch_line(row, cfg, best_psnr), flush=True)
    return best_psnr


def epoch_line(row, cfg, best_psnr):
    """The line printed after every epoch."""
    train = (f"epoch {row['epoch'] + 1}/{cfg.num_epoch}: loss {row['train_loss']:.4f} (recon {row['train_recon']:.4f}, "
             f"kl {row['train_kl']:.4g}) beta {row['beta']:.3g} tfr {row['tfr']:.2f}")
    val = (f"val PSNR {row['val_psnr']:.2f} dB (best {best_psnr:.2f}), moving {row['val_moving_psnr']:.2f} dB, "
           f"vacated {row['val_vacated_psnr']:.2f} dB, IoU {row['val_silhouette_iou']:.3f} (copying frame 0: "
           f"{row['copy_psnr']:.2f} / {row['copy_moving_psnr']:.2f} / {row['copy_vacated_psnr']:.2f} / "
           f"{row['copy_silhouette_iou']:.3f})" if "val_psnr" in row else "not validated (--val_every)")
    return f"{train} | {val}{selection_note(row)} | {row['seconds']:.0f}s"


def time_estimate(epoch_seconds, epochs_left):
    """After the first epoch: what the rest will take at its pace."""
    return f"this epoch took {epoch_seconds:.0f} s: about {epoch_seconds * epochs_left / 60:.1f} min for the {epochs_left} left"


def selection_note(row):
    """The composite head's diagnostics for the epoch line ('' for a head without a selection)."""
    if not math.isfinite(row.get("first_weight_vacated", math.nan)):
        return ""
    return (f" | frame-0 weight on vacated pixels {row['first_weight_vacated']:.2f}, flow on the dancer "
            f"{row['flow_on_dancer']:.1f} px")


def validate_only(cfg):
    """``--test``: roll out the validation video with the ``--ckpt_path`` model and report PSNR."""
    if not cfg.ckpt_path:
        raise UserInputError("--test needs --ckpt_path")
    resume_with_the_runs_flags(cfg)
    root = dataset_root(cfg.DR)
    device, model, *_ = prepare(cfg)
    frames, poses = (x.to(device) for x in load_val_video(root, (cfg.frame_H, cfg.frame_W), cfg.val_vi_len))
    val = validate(model, frames, poses, seed=cfg.seed, amp=cfg.amp)
    require_finite(val["video"], cfg.ckpt_path, model)
    print(f"validation: PSNR {val['val_psnr']:.2f} dB (moving {val['val_moving_psnr']:.2f} dB, vacated "
          f"{val['val_vacated_psnr']:.2f} dB, IoU {val['val_silhouette_iou']:.3f}; copying frame 0 "
          f"{val['copy_psnr']:.2f} / {val['copy_moving_psnr']:.2f} / {val['copy_vacated_psnr']:.2f} / "
          f"{val['copy_silhouette_iou']:.3f}), MSE {val['val_loss']:.5f} over {frames.shape[0] - 1} frames",
          flush=True)  # before the GIF, which a read-only folder refuses
    out = Path(cfg.save_root or Path(cfg.ckpt_path).parent)
    out.mkdir(parents=True, exist_ok=True)
    save_gif(rollout_panel(val["video"], frames.cpu(), poses.cpu()), out / "val_rollout_test.gif", scale=2)
    return val
