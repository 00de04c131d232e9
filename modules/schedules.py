"""Per-epoch schedules as pure functions of the epoch: resume needs nothing but the epoch."""
import math

import numpy as np

KL_ANNEAL_TYPES = ("Cyclical", "Monotonic", "None")
LR_SCHEDULES = ("step", "cosine")


def cosine_lr_factor(progress, num_epoch, warmup=0.0, final=0.01):
    """The ``--lr_schedule cosine`` multiplier of the learning rate after ``progress`` epochs
    (fractional: epoch + batch / batches per epoch) of a ``num_epoch``-epoch schedule: a linear
    warm-up from 0 over the first ``warmup`` epochs, then half a cosine from 1 down to ``final``;
    ``final`` after the schedule ends."""
    if progress < warmup:
        return progress / warmup
    span = num_epoch - warmup
    if span <= 0 or progress >= num_epoch:
        return final
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * (progress - warmup) / span))


def cyclical_value(epoch, num_epochs, n_cycle=1, ratio=1.0, start=0.0, stop=1.0):
    """Fu et al. 2019 (``frange_cycle_linear``) at one epoch: in each of ``n_cycle`` periods of
    ``num_epochs / n_cycle`` epochs, rise linearly from ``start`` to ``stop`` over the first ``ratio`` of
    the period, then hold ``stop``. The value is that of the last cycle begun by ``epoch`` (a later cycle
    overwrites an earlier one), found in closed form: a huge --num_epoch or --kl_anneal_cycle costs nothing."""
    period = num_epochs / n_cycle
    if period < 1:  # every epoch begins a cycle
        return start
    cycle = min(n_cycle - 1, ((epoch + 1) * n_cycle - 1) // num_epochs)  # the last with cycle * period < epoch + 1
    if cycle + 1 < n_cycle and int((cycle + 1) * period) <= epoch:  # float rounding, as in Fu et al.'s loop
        cycle += 1
    elif int(cycle * period) > epoch:
        cycle -= 1
    step = (stop - start) / (period * ratio)
    rise = (epoch - int(cycle * period)) * step
    return start + rise if rise <= (stop - start) * (1 + 1e-12) else stop


def linear_cyclical_schedule(num_epochs, n_cycle=1, ratio=1.0, start=0.0, stop=1.0):
    """:func:`cyclical_value` for every epoch: a float array of length ``num_epochs`` (for plots and tests)."""
    return np.array([cyclical_value(e, num_epochs, n_cycle, ratio, start, stop) for e in range(num_epochs)])


def kl_beta(epoch, kl_anneal_type, num_epoch, kl_anneal_cycle, kl_anneal_ratio):
    """KL weight of ``epoch`` (0-based), rising to 1. Epochs past ``num_epoch`` keep the last value."""
    if kl_anneal_type == "None":
        return 1.0
    if kl_anneal_type == "Monotonic":
        n_cycle = 1
    elif kl_anneal_type == "Cyclical":
        n_cycle = kl_anneal_cycle
    else:
        raise ValueError(f"kl_anneal_type must be one of {KL_ANNEAL_TYPES}, got {kl_anneal_type!r}")
    return float(cyclical_value(min(epoch, num_epoch - 1), num_epoch, n_cycle, kl_anneal_ratio))


def teacher_forcing_ratio(epoch, tfr, tfr_sde, tfr_d_step):
    """Template rule: start at ``tfr``; from epoch ``tfr_sde`` on, lose ``tfr_d_step`` per epoch; floor 0.

    The template decrements after finishing an epoch once its epoch counter (1-based after the
    increment) reaches ``tfr_sde``: 0-based epochs 0..tfr_sde-1 train with ``tfr``, epoch
    tfr_sde with ``tfr - tfr_d_step``, and so on.
    """
    decays = max(0, epoch - tfr_sde + 1)
    return max(0.0, tfr - decays * tfr_d_step)


def partial_for_epoch(epoch, partial, fast_train, fast_partial, fast_train_epoch):
    """Fraction of the training clips used in ``epoch``: ``fast_partial`` while ``fast_train`` is
    on and ``epoch <= fast_train_epoch`` (the template's test, so fast_train_epoch + 1 epochs),
    else ``partial``."""
    if fast_train and epoch <= fast_train_epoch:
        return fast_partial
    return partial
