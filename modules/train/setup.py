"""What a training run is built from: model, optimiser, LR scheduler, the state to resume from, and
the DataLoader of each epoch."""
import math
import random

import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from ..architectures import build_vae, checkpoint_model_config, config_dict, model_config
from ..checkpoint import load_checkpoint, load_model_weights, rng_state, set_rng_state
from ..config import check_flags_fit, overridden_flags, resume_recipe, take_model_flags, typed
from ..errors import UserInputError
from ..runtime import channels_last_for, resolve_device, torch_seed
from ..schedules import cosine_lr_factor, partial_for_epoch
from . import distributed


def build_model(cfg):
    """The model the run's flags describe (a new run; a resumed one takes its checkpoint's config)."""
    return build_vae(model_config(vars(cfg)))


def build_optimizer(model, cfg):
    optim_class = {"Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}[cfg.optim]
    return optim_class(model.parameters(), lr=cfg.lr)


LR_STEP_FACTOR = 0.1  # the template's MultiStepLR gamma


def build_scheduler(optimizer, cfg):
    """The template's per-epoch MultiStepLR; constant (no milestones) under --lr_schedule cosine, whose
    rate :func:`batch_lr` sets every batch."""
    milestones = [] if getattr(cfg, "lr_schedule", "step") == "cosine" else list(cfg.milestones)
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=LR_STEP_FACTOR)


def batch_lr(cfg, epoch, batches):
    """--lr_schedule cosine: batch index of ``epoch`` (of ``batches``) -> its learning rate, a pure
    function of the position in the run (so a resumed run repeats it); None for the MultiStepLR."""
    if getattr(cfg, "lr_schedule", "step") != "cosine":
        return None
    return lambda i: cfg.lr * cosine_lr_factor(epoch + i / batches, cfg.schedule_epochs, cfg.lr_warmup)


def make_grad_scaler(device, amp):
    """Loss scaling for fp16 autocast; disabled (every call a pass-through) otherwise."""
    return torch.amp.GradScaler(device.type, enabled=amp == "fp16")


def seed_epoch(seed, epoch, rank=0):
    """Seed torch and python for ``epoch``: the same (seed, epoch) replays the same epoch.

    Under DDP each ``rank`` draws its own latent noise (torch), as the samples of one big batch
    would; the returned value, which orders the data and flips the teacher-forcing coins, is the
    same on every rank, so the ranks take the same branches.
    """
    value = seed * 100_003 + epoch
    torch.manual_seed(torch_seed(value + 1_000_003 * rank))
    random.seed(value)
    return torch_seed(value)


# -- checkpoints of a run -----------------------------------------------------------------------------
def training_state(model, optimizer, scheduler, *, next_epoch, best_psnr, cfg):
    """What a checkpoint holds: the states, counters, the model's own config and the run's flags."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "epoch": next_epoch, "best_psnr": best_psnr, "model_config": config_dict(model.config),
            "config": vars(cfg), "rng": rng_state()}


def restore(ckpt_path, model, optimizer=None, scheduler=None):
    """Load a checkpoint into the model (and optimiser/scheduler when present in it).

    Returns (next epoch to train, best PSNR so far, the checkpoint's config dict).
    """
    ckpt = load_checkpoint(ckpt_path)
    load_model_weights(model, ckpt["model"], ckpt_path, from_flags=bool(ckpt.get("template")))
    if optimizer is not None and "optimizer" in ckpt and not ckpt.get("template"):
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and "scheduler" in ckpt:
        scheduler.load_state_dict(ckpt["scheduler"])
    if "rng" in ckpt:
        set_rng_state(ckpt["rng"])
    return ckpt["epoch"], ckpt.get("best_psnr", -math.inf), ckpt.get("config", {})


def prepare(cfg):
    """Device, model, optimiser, scheduler and the state to resume from (if ``--ckpt_path``).

    Under torchrun the device is this rank's (cuda:LOCAL_RANK, or the CPU with gloo).
    """
    device = distributed.device_of_process() if distributed.is_distributed() else resolve_device(cfg.device)
    if cfg.ckpt_path:
        config = checkpoint_model_config(load_checkpoint(cfg.ckpt_path), cfg.ckpt_path, vars(cfg))
        take_model_flags(cfg, config_dict(config))
    else:
        check_flags_fit(cfg)
        config = model_config(vars(cfg))
    torch.manual_seed(torch_seed(cfg.seed))  # the initial weights depend on --seed alone
    model = build_vae(config)
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg)
    start_epoch, best_psnr, stored = 0, -math.inf, {}
    if cfg.ckpt_path:
        start_epoch, best_psnr, stored = restore(cfg.ckpt_path, model, optimizer, scheduler)
        _note_restored_flags(cfg, stored)
    cfg.schedule_epochs = schedule_length(cfg, stored)
    check_warmup(cfg)
    model.to(device)
    if channels_last_for(getattr(cfg, "channels_last", None), device.type):
        model.to(memory_format=torch.channels_last)
    _optimizer_to(optimizer, device)
    return device, model, optimizer, scheduler, start_epoch, best_psnr


RESTORED = ("optim", "lr", "milestones")  # the optimiser and LR-scheduler state a resume restores


def _note_restored_flags(cfg, stored):
    ignored = overridden_flags(cfg, stored, RESTORED)
    if ignored:
        kept = " ".join(f"--{key} {stored[key]}" for key in RESTORED if key in stored)
        print(f"note: {' '.join(ignored)} ignored: resuming restores the checkpoint's optimiser and LR schedule "
              f"({kept}); to change them, start a new run")
    for key in RESTORED:
        if key in stored:
            setattr(cfg, key, stored[key])


def resume_with_the_runs_flags(cfg):
    """With --ckpt_path: every flag not given takes the value the checkpoint's run had (so a resume goes on
    with its recipe), and a line says which given flags differ from the run's. A template checkpoint
    stores no flags: nothing changes."""
    if not cfg.ckpt_path:
        return
    changed = resume_recipe(cfg, load_checkpoint(cfg.ckpt_path).get("config") or {})
    if changed and distributed.is_main_process():
        print(f"note: resuming with the run's own flags, except: {', '.join(changed)}")


def schedule_length(cfg, stored):
    """Epochs the KL and cosine-lr schedules span: resuming, the stored run's (its first --num_epoch);
    else --num_epoch.

    Fixed at the first start, so a resumed run, whatever its --num_epoch, trains every epoch with the
    beta the uninterrupted run had; epochs past the schedule keep its last beta. (Teacher forcing
    depends on the epoch alone.)"""
    return stored.get("schedule_epochs") or stored.get("num_epoch") or cfg.num_epoch


def check_warmup(cfg):
    """A cosine warm-up as long as the schedule would train at a rising, never falling, lr: refuse it."""
    if cfg.lr_schedule == "cosine" and cfg.lr_warmup >= cfg.schedule_epochs:
        raise UserInputError(f"--lr_warmup {cfg.lr_warmup} epochs covers the whole {cfg.schedule_epochs}-epoch "
                             f"schedule: the lr would never leave the warm-up; give less than "
                             f"{cfg.schedule_epochs}")


def _optimizer_to(optimizer, device):
    for state in optimizer.state.values():
        for key, value in state.items():
            if torch.is_tensor(value) and key != "step":
                state[key] = value.to(device)


# -- data ------------------------------------------------------------------------------------------
# Without --num_workers: the frames are held in memory as uint8 (dataloader.py), so a batch is a slice
# and a division; worker processes would only add their start-up and copy every batch between processes
# (and on a 2-core machine torch warns that the template's 4 workers are too many).
AUTO_NUM_WORKERS = 0


def num_workers(cfg):
    """``--num_workers``, or AUTO_NUM_WORKERS when it was not given."""
    return AUTO_NUM_WORKERS if cfg.num_workers is None else cfg.num_workers


def describe_num_workers(cfg):
    """The line that says once what was chosen and why (None when the user chose)."""
    if cfg.num_workers is not None:
        return None
    return (f"data loading: {AUTO_NUM_WORKERS} worker processes, the frames are already in memory "
            f"(pass --num_workers N to choose)")


def clips_in_epoch(n_clips, cfg, epoch):
    """How many of the ``n_clips`` training clips ``epoch`` trains on: the first ``--partial`` of them
    (``--fast_partial`` in the first epochs with --fast_train), at least one."""
    partial = partial_for_epoch(epoch, cfg.partial, cfg.fast_train, cfg.fast_partial, cfg.fast_train_epoch)
    return max(1, int(n_clips * partial)) if n_clips else 0


def steps_per_epoch(n_clips, cfg, epoch=0):
    """Optimizer steps of ``epoch``: its batches on each rank (the last, incomplete one is dropped)."""
    return clips_in_epoch(n_clips, cfg, epoch) // distributed.world_size() // cfg.batch_size


# With --train_steps, about this many validations and periodic checkpoints per run (unless given).
VALIDATIONS_PER_RUN, CHECKPOINTS_PER_RUN = 20, 10


def size_in_steps(cfg, n_clips):
    """--train_steps S: set --num_epoch to the epochs S steps take on ``n_clips`` clips (after the first
    epoch, whose --fast_train share may differ), and --val_every / --per_save where not given. Returns
    the line that says so, or None without --train_steps. A --num_epoch typed on the command line wins
    over the --train_steps of a preset."""
    if not cfg.train_steps or (typed(cfg, "num_epoch") and not typed(cfg, "train_steps")):
        return None
    first, per_epoch = steps_per_epoch(n_clips, cfg, 0), steps_per_epoch(n_clips, cfg, 1)
    if not first or not per_epoch:
        require_a_batch(clips_in_epoch(n_clips, cfg, 0 if not first else 1), n_clips, cfg)
    cfg.num_epoch = 1 + max(0, math.ceil((cfg.train_steps - first) / per_epoch))
    given = getattr(cfg, "given_flags", None) or []
    if "val_every" not in given:
        cfg.val_every = max(1, cfg.num_epoch // VALIDATIONS_PER_RUN)
    if "per_save" not in given:
        cfg.per_save = max(1, cfg.num_epoch // CHECKPOINTS_PER_RUN)
    return (f"--train_steps {cfg.train_steps}: {cfg.num_epoch} epochs of {per_epoch} steps (batch {cfg.batch_size}), "
            f"validated every {cfg.val_every} epochs, a checkpoint every {cfg.per_save}")


def require_a_batch(used, n_clips, cfg):
    """Refuse an epoch of no batch (the DataLoader drops a last, incomplete one), naming the cause."""
    per_rank = used // distributed.world_size()
    if per_rank >= cfg.batch_size:
        return
    ranks = f" over {distributed.world_size()} processes" if distributed.is_distributed() else ""
    raise UserInputError(f"{used} training clips per epoch (of {n_clips}; --partial {cfg.partial}){ranks} fill no "
                         f"batch of --batch_size {cfg.batch_size}: lower --batch_size, or raise --partial or lower "
                         f"--train_vi_len for more clips")


def train_loader_for_epoch(train_set, cfg, epoch, generator):
    """DataLoader over the first ``partial`` of the clips (``fast_partial`` early with --fast_train).

    Under DDP a DistributedSampler deals each rank its own ``len // world_size`` clips, shuffled
    from (seed, epoch) identically on every rank, so all ranks run the same number of batches.
    """
    if hasattr(train_set, "set_epoch"):
        train_set.set_epoch(epoch)
    used = clips_in_epoch(len(train_set), cfg, epoch)
    require_a_batch(used, len(train_set), cfg)
    clips = Subset(train_set, range(used))
    sampler = None
    if distributed.is_distributed():
        sampler = DistributedSampler(clips, shuffle=True, seed=cfg.seed, drop_last=True)
        sampler.set_epoch(epoch)
    return DataLoader(clips, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler, drop_last=True,
                      generator=generator, num_workers=num_workers(cfg), pin_memory=torch.cuda.is_available(),
                      persistent_workers=False)
