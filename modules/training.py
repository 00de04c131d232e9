"""The training loop: data, model, optimiser, schedules, validation, logging, checkpoints.

``fit(cfg)`` is what Trainer.py runs. Every epoch reseeds its random streams from
(seed, epoch), so a run resumed from a checkpoint repeats exactly what the uninterrupted run did.
Under torchrun (docs/distributed.md) each process trains on its share of the clips through
DistributedDataParallel, and only rank 0 validates, prints and writes files.
"""
import math
import random
import time
import warnings
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset
from tqdm import tqdm

from . import distributed
from .checkpoint import load_checkpoint, load_model_weights, rng_state, save_checkpoint, set_rng_state
from .config import MODEL_KEYS, model_kwargs
from .errors import UserInputError
from .media import save_gif
from .metrics import psnr_per_frame
from .objective import cvae_loss, mse_per_frame
from .plots import plot_training_curves
from .runlog import append_metrics
from .runtime import channels_last_for
from .schedules import kl_beta, partial_for_epoch, teacher_forcing_ratio
from .vae import VAE_Model


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


# -- set-up ------------------------------------------------------------------------------------
def resolve_device(requested):
    """``cuda`` when asked for and available; otherwise ``cpu`` (with a warning if cuda was asked)."""
    if requested == "cuda" and not torch.cuda.is_available():
        warnings.warn("--device cuda requested but CUDA is not available: running on the CPU", stacklevel=2)
        return torch.device("cpu")
    return torch.device(requested)


def build_model(cfg):
    return VAE_Model(**model_kwargs(cfg))


def build_optimizer(model, cfg):
    optim_class = {"Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}[cfg.optim]
    return optim_class(model.parameters(), lr=cfg.lr)


def build_scheduler(optimizer, cfg):
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg.milestones), gamma=cfg.gamma)


def default_save_root():
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def seed_epoch(seed, epoch, rank=0):
    """Seed torch and python for ``epoch``: the same (seed, epoch) replays the same epoch.

    Under DDP each ``rank`` draws its own latent noise (torch), as the samples of one big batch
    would; the returned value, which orders the data and flips the teacher-forcing coins, is the
    same on every rank, so the ranks take the same branches.
    """
    value = seed * 100_003 + epoch
    torch.manual_seed(value + 1_000_003 * rank)
    random.seed(value)
    return value


def make_grad_scaler(device, amp):
    """Loss scaling for fp16 autocast; disabled (every call a pass-through) otherwise."""
    return torch.amp.GradScaler(device.type, enabled=amp == "fp16")


def autocast_context(device, amp):
    if amp == "none":
        return nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    return torch.autocast(device_type=device.type, dtype=dtype)


# -- teacher forcing -----------------------------------------------------------------------------
def teacher_forcing_coins(tfr, flip, steps, rng):
    """Yield, batch after batch, the teacher-forcing decision for a clip of ``steps`` steps.

    ``epoch``: one coin for the whole epoch (the template); ``batch``: one per batch;
    ``frame``: one per step of every batch (a list of bools).
    """
    epoch_coin = rng.random() < tfr
    while True:
        if flip == "epoch":
            yield epoch_coin
        elif flip == "batch":
            yield rng.random() < tfr
        else:
            yield [rng.random() < tfr for _ in range(steps)]


def forced_share(coin):
    return float(coin) if isinstance(coin, bool) else sum(coin) / len(coin)


# -- one epoch of training, one validation rollout -------------------------------------------------
def train_one_epoch(model, loader, optimizer, *, beta, tfr, cfg, device, rng, desc="train", scaler=None):
    """Train over ``loader`` once. Returns the epoch means of loss, recon, kl and the share of
    teacher-forced steps. Raises NonFiniteLossError before stepping on a NaN/inf loss.

    ``scaler``: a GradScaler for --amp fp16 (whose small gradients underflow without one); made
    here when not given, a pass-through otherwise."""
    model.train()
    if scaler is None:
        scaler = make_grad_scaler(device, getattr(cfg, "amp", "none"))
    totals = torch.zeros(3, dtype=torch.float64)
    forced, batches = 0.0, 0
    coins = teacher_forcing_coins(tfr, cfg.tf_flip, cfg.train_vi_len - 1, rng)
    bar = tqdm(loader, desc=desc, leave=False, disable=None if distributed.is_main_process() else True,
               dynamic_ncols=True)
    for frames, poses in bar:
        frames, poses = frames.to(device, non_blocking=True), poses.to(device, non_blocking=True)
        coin = next(coins)
        optimizer.zero_grad(set_to_none=True)
        with autocast_context(device, cfg.amp):
            pred, mu, logvar = model(frames, poses, coin)
        terms = cvae_loss(pred, frames[:, 1:], mu, logvar, beta, cfg.kl_reduction)
        stats = torch.stack([terms["loss"], terms["recon"], terms["kl"]]).detach().double().cpu()
        # All ranks decide together, before any of them enters backward's gradient all-reduce.
        if not distributed.all_ranks(torch.isfinite(stats).all()):
            raise NonFiniteLossError(f"non-finite loss (loss, recon, kl) = {stats.tolist()} at batch {batches}")
        scaler.scale(terms["loss"]).backward()
        if cfg.clip_grad > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
        scaler.step(optimizer)
        scaler.update()
        totals += stats
        forced += forced_share(coin)
        batches += 1
        bar.set_postfix(loss=f"{stats[0]:.4f}", beta=f"{beta:.3g}", tfr=f"{tfr:.2f}")
    if batches == 0:
        raise UserInputError("no training clips: lower --train_vi_len or raise --partial")
    # Every rank has run the same number of batches, so the mean of the ranks' means is the mean.
    loss, recon, kl = distributed.mean_over_ranks(totals / batches).tolist()
    return {"train_loss": loss, "train_recon": recon, "train_kl": kl, "teacher_forcing": forced / batches}


@torch.inference_mode()
def evaluate(model, frames, poses, *, seed=0, z_mode="prior", amp="none"):
    """Roll out validation videos from their first frames and score every frame.

    frames, poses: (B, T, 3, H, W) on the model's device. Returns ``val_loss`` (rollout MSE,
    mean over frames 1..T-1), ``val_psnr`` (mean per-frame PSNR over frames 1..T-1 and videos),
    ``psnr_per_frame`` (T-1,) and the generated ``video`` (B, T, 3, H, W) on the CPU.
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=frames.device).manual_seed(seed)
    with autocast_context(frames.device, amp):
        video = model.rollout(frames[:, 0], poses, z_mode=z_mode, generator=generator).float()
    psnr = psnr_per_frame(video[:, 1:], frames[:, 1:])  # (B, T-1)
    mse = mse_per_frame(video[:, 1:], frames[:, 1:]).mean()
    model.train(was_training)
    return {"val_loss": float(mse), "val_psnr": float(psnr.mean()), "psnr_per_frame": psnr.mean(0).cpu(),
            "video": video.cpu()}


def rollout_panel(video, frames, poses):
    """Side by side for a GIF: ground truth | prediction | pose, each (T, 3, H, W) -> (T, 3, H, 3W)."""
    return torch.cat([frames, video, poses], dim=-1)


# -- checkpoints --------------------------------------------------------------------------------
def training_state(model, optimizer, scheduler, *, next_epoch, best_psnr, cfg):
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "epoch": next_epoch, "best_psnr": best_psnr, "config": vars(cfg), "rng": rng_state()}


def restore(ckpt_path, model, optimizer=None, scheduler=None):
    """Load a checkpoint into the model (and optimiser/scheduler when present in it).

    Returns (next epoch to train, best PSNR so far, the checkpoint's config dict).
    """
    ckpt = load_checkpoint(ckpt_path)
    load_model_weights(model, ckpt["model"], ckpt_path)
    if optimizer is not None and "optimizer" in ckpt and not ckpt.get("template"):
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and "scheduler" in ckpt:
        scheduler.load_state_dict(ckpt["scheduler"])
    if "rng" in ckpt:
        set_rng_state(ckpt["rng"])
    return ckpt["epoch"], ckpt.get("best_psnr", -math.inf), ckpt.get("config", {})


def apply_checkpoint_model_config(cfg, ckpt_path):
    """Take the network flags (widths, activation, output mode) from a checkpoint of ours."""
    stored = load_checkpoint(ckpt_path).get("config", {})
    for key in MODEL_KEYS:
        if key in stored:
            setattr(cfg, key, stored[key])
    return stored


# -- data ----------------------------------------------------------------------------------------
def dataset_root(cfg):
    """``--DR``, or the embedded synthetic dataset (generated on first use)."""
    if cfg.DR:
        return Path(cfg.DR)
    from .synthetic import ensure_synthetic_dataset
    return ensure_synthetic_dataset()


def load_datasets(cfg, root):
    from dataloader import Dataset_Dance
    size = dict(frame_H=cfg.frame_H, frame_W=cfg.frame_W)
    train = Dataset_Dance(root, mode="train", video_len=cfg.train_vi_len, partial=1.0,
                          random_offset=cfg.random_offset, **size)
    val = Dataset_Dance(root, mode="val", video_len=cfg.val_vi_len, **size)
    return train, val


def train_loader_for_epoch(train_set, cfg, epoch, generator):
    """DataLoader over the first ``partial`` of the clips (``fast_partial`` early with --fast_train).

    Under DDP a DistributedSampler deals each rank its own ``len // world_size`` clips, shuffled
    from (seed, epoch) identically on every rank, so all ranks run the same number of batches.
    """
    partial = partial_for_epoch(epoch, cfg.partial, cfg.fast_train, cfg.fast_partial, cfg.fast_train_epoch)
    if hasattr(train_set, "set_epoch"):
        train_set.set_epoch(epoch)
    clips = Subset(train_set, range(max(1, int(len(train_set) * partial))))
    sampler = None
    if distributed.is_distributed():
        sampler = DistributedSampler(clips, shuffle=True, seed=cfg.seed, drop_last=True)
        sampler.set_epoch(epoch)
    return DataLoader(clips, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler, drop_last=True,
                      generator=generator, num_workers=cfg.num_workers, pin_memory=torch.cuda.is_available(),
                      persistent_workers=False)


# -- the run -------------------------------------------------------------------------------------
class Run:
    """Where a run writes: metrics.csv, plots, GIFs and checkpoints under one folder."""

    def __init__(self, save_root, create=True):
        self.root = Path(save_root)
        self.ckpt_dir = self.root / "checkpoints"
        if create:
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = self.root / "metrics.csv"

    def checkpoint(self, name):
        return self.ckpt_dir / f"{name}.pt"


def prepare(cfg):
    """Device, model, optimiser, scheduler and the state to resume from (if ``--ckpt_path``).

    Under torchrun the device is this rank's (cuda:LOCAL_RANK, or the CPU with gloo).
    """
    device = distributed.device_of_process() if distributed.is_distributed() else resolve_device(cfg.device)
    if cfg.ckpt_path:
        apply_checkpoint_model_config(cfg, cfg.ckpt_path)
    torch.manual_seed(cfg.seed)  # the initial weights depend on --seed alone
    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg)
    start_epoch, best_psnr = 0, -math.inf
    if cfg.ckpt_path:
        start_epoch, best_psnr, _ = restore(cfg.ckpt_path, model, optimizer, scheduler)
    model.to(device)
    if channels_last_for(getattr(cfg, "channels_last", None), device.type):
        model.to(memory_format=torch.channels_last)
    _optimizer_to(optimizer, device)
    return device, model, optimizer, scheduler, start_epoch, best_psnr


def _optimizer_to(optimizer, device):
    for state in optimizer.state.values():
        for key, value in state.items():
            if torch.is_tensor(value) and key != "step":
                state[key] = value.to(device)


def fit(cfg):
    """Train as the flags say; returns the run folder. Writes after every epoch: metrics.csv,
    the curves, a GIF of the validation rollout, ``last``/``best``/periodic checkpoints.

    Under torchrun every process runs this; see :func:`_fit_in_process_group`.
    """
    distributed.check_launch(cfg.gpu)
    with distributed.process_group(cfg.device):
        return _fit_in_process_group(cfg)


def _fit_in_process_group(cfg):
    """The training run of one process. With several (DDP), the training pass goes through the
    DDP wrapper while ``model`` (the same parameters, unwrapped) validates and is saved, so no
    ``module.`` prefix reaches a checkpoint; rank 0 alone validates and writes, and the others
    take its best PSNR."""
    main = distributed.is_main_process()
    with distributed.main_process_first():  # the synthetic dataset is generated once
        root = dataset_root(cfg)
    cfg.save_root = distributed.broadcast_from_main(str(cfg.save_root or default_save_root()))
    run = Run(cfg.save_root, create=main)
    device, model, optimizer, scheduler, start_epoch, best_psnr = prepare(cfg)
    with distributed.main_process_first():  # rank 0 writes the frame cache, the others read it
        train_set, val_set = load_datasets(cfg, root)
    if main:
        val_frames, val_poses = (x.unsqueeze(0).to(device) for x in val_set[0])
    if main and start_epoch >= cfg.num_epoch:
        print(f"nothing to train: the checkpoint is at epoch {start_epoch} of --num_epoch {cfg.num_epoch}")
    train_step_model = distributed.wrap(model, device)
    train_step_model = torch.compile(train_step_model) if cfg.compile else train_step_model
    scaler = make_grad_scaler(device, cfg.amp)  # kept across epochs: its scale adapts over steps
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, cfg.num_epoch):
            started = time.perf_counter()
            seed = seed_epoch(cfg.seed, epoch, distributed.rank())
            beta = kl_beta(epoch, cfg.kl_anneal_type, cfg.num_epoch, cfg.kl_anneal_cycle, cfg.kl_anneal_ratio)
            tfr = teacher_forcing_ratio(epoch, cfg.tfr, cfg.tfr_sde, cfg.tfr_d_step)
            lr = optimizer.param_groups[0]["lr"]
            loader = train_loader_for_epoch(train_set, cfg, epoch, torch.Generator().manual_seed(seed))
            stats = train_one_epoch(train_step_model, loader, optimizer, beta=beta, tfr=tfr, cfg=cfg,
                                    device=device, rng=random.Random(seed),
                                    desc=f"epoch {epoch + 1}/{cfg.num_epoch}", scaler=scaler)
            scheduler.step()
            if main:
                val = evaluate(model, val_frames, val_poses, seed=cfg.seed, amp=cfg.amp)
                row = {"epoch": epoch, "lr": lr, "beta": beta, "tfr": tfr, **stats, "val_loss": val["val_loss"],
                       "val_psnr": val["val_psnr"], "seconds": time.perf_counter() - started}
                best_psnr = record_epoch(run, cfg, row, val, val_frames, val_poses, best_psnr,
                                         lambda: training_state(model, optimizer, scheduler, next_epoch=epoch + 1,
                                                                best_psnr=max(best_psnr, val["val_psnr"]), cfg=cfg))
            best_psnr = distributed.broadcast_from_main(best_psnr)
    except NonFiniteLossError as err:
        raise UserInputError(f"{err} in epoch {epoch + 1}: training stopped; the last good checkpoint is "
                             f"{run.checkpoint('last')} (try a lower --lr or --clip_grad)") from err
    except KeyboardInterrupt:
        # Under torchrun Ctrl-C reaches every rank; rank 0 saves without waiting on the others
        # (no collective: a peer may already be gone).
        if main:
            path = run.checkpoint("interrupted")
            save_checkpoint(path, training_state(model, optimizer, scheduler, next_epoch=epoch,
                                                 best_psnr=best_psnr, cfg=cfg))
            print(f"\ninterrupted in epoch {epoch + 1}: saved {path}; resume with --ckpt_path {path} "
                  f"(the interrupted epoch is trained again from the weights it had reached)")
    if main:
        print(f"run folder: {run.root}")
    return run.root


def record_epoch(run, cfg, row, val, frames, poses, best_psnr, make_state):
    """Log, plot and checkpoint one finished epoch. Returns the new best PSNR."""
    epoch = row["epoch"]
    append_metrics(run.metrics, row)
    plot_training_curves(run.metrics, run.root)
    panel = rollout_panel(val["video"][0], frames[0].cpu(), poses[0].cpu())
    save_gif(panel, run.root / "val_rollout.gif", scale=2)
    if cfg.store_visualization:
        (run.root / "gifs").mkdir(exist_ok=True)
        save_gif(panel, run.root / "gifs" / f"epoch_{epoch + 1:03d}.gif", scale=2)
    state = make_state()
    save_checkpoint(run.checkpoint("last"), state)
    if (epoch + 1) % cfg.per_save == 0:
        save_checkpoint(run.checkpoint(f"epoch_{epoch + 1:03d}"), state)
    if val["val_psnr"] > best_psnr:
        best_psnr = val["val_psnr"]
        save_checkpoint(run.checkpoint("best"), state)
        save_gif(panel, run.root / "val_rollout_best.gif", scale=2)
    print(f"epoch {epoch + 1}/{cfg.num_epoch}: loss {row['train_loss']:.4f} (recon {row['train_recon']:.4f}, "
          f"kl {row['train_kl']:.4g}) beta {row['beta']:.3g} tfr {row['tfr']:.2f} | val PSNR "
          f"{row['val_psnr']:.2f} dB (best {best_psnr:.2f}) | {row['seconds']:.0f}s", flush=True)
    return best_psnr


def validate_only(cfg):
    """``--test``: roll out the validation video with the ``--ckpt_path`` model and report PSNR."""
    if not cfg.ckpt_path:
        raise UserInputError("--test needs --ckpt_path")
    root = dataset_root(cfg)
    device, model, *_ = prepare(cfg)
    _, val_set = load_datasets(cfg, root)
    frames, poses = (x.unsqueeze(0).to(device) for x in val_set[0])
    val = evaluate(model, frames, poses, seed=cfg.seed, amp=cfg.amp)
    out = Path(cfg.save_root or Path(cfg.ckpt_path).parent)
    out.mkdir(parents=True, exist_ok=True)
    save_gif(rollout_panel(val["video"][0], frames[0].cpu(), poses[0].cpu()), out / "val_rollout_test.gif", scale=2)
    print(f"validation: PSNR {val['val_psnr']:.2f} dB, MSE {val['val_loss']:.5f} over {frames.shape[1] - 1} frames")
    return val
