"""Schedules: Fu et al.'s cyclical vectors, the three KL modes, teacher forcing, fast_train, the cosine lr."""
import math
import time

import numpy as np
import pytest

from modules.schedules import (cosine_lr_factor, kl_beta, linear_cyclical_schedule, partial_for_epoch,
                               teacher_forcing_ratio)


@pytest.mark.parametrize("n, cycles, ratio, expected", [
    (10, 2, 0.5, [0, .4, .8, 1, 1, 0, .4, .8, 1, 1]),
    (12, 3, 1.0, [0, .25, .5, .75] * 3),
    (10, 1, 0.25, [0, .4, .8, 1, 1, 1, 1, 1, 1, 1]),
])
def test_linear_cyclical_schedule_matches_fu_et_al(n, cycles, ratio, expected):
    np.testing.assert_allclose(linear_cyclical_schedule(n, cycles, ratio), expected, atol=1e-12)


def test_kl_modes():
    args = dict(num_epoch=10, kl_anneal_cycle=2, kl_anneal_ratio=0.5)
    assert [kl_beta(e, "Cyclical", **args) for e in range(10)] == pytest.approx([0, .4, .8, 1, 1] * 2)
    assert [kl_beta(e, "Monotonic", **args) for e in range(4)] == pytest.approx([0, .2, .4, .6])
    assert kl_beta(9, "Monotonic", **args) == 1.0
    assert {kl_beta(e, "None", **args) for e in range(10)} == {1.0}
    assert kl_beta(25, "Cyclical", **args) == kl_beta(9, "Cyclical", **args)
    with pytest.raises(ValueError, match="kl_anneal_type"):
        kl_beta(0, "cyclical", **args)


def test_teacher_forcing_decays_from_tfr_sde_and_floors_at_zero():
    ratios = [teacher_forcing_ratio(e, tfr=1.0, tfr_sde=10, tfr_d_step=0.1) for e in range(25)]
    assert ratios[:10] == [1.0] * 10
    assert ratios[10:13] == pytest.approx([0.9, 0.8, 0.7])
    assert ratios[19] == pytest.approx(0.0, abs=1e-12) and ratios[24] == 0.0
    assert teacher_forcing_ratio(3, tfr=0.0, tfr_sde=0, tfr_d_step=0.1) == 0.0


def test_fast_train_uses_fast_partial_for_the_first_epochs():
    args = dict(partial=1.0, fast_partial=0.4, fast_train_epoch=5)
    assert [partial_for_epoch(e, fast_train=True, **args) for e in (0, 5, 6)] == [0.4, 0.4, 1.0]
    assert partial_for_epoch(0, fast_train=False, **args) == 1.0


def test_cosine_lr_warms_up_linearly_then_falls_by_half_a_cosine_to_the_final_fraction():
    assert cosine_lr_factor(0.0, 10, warmup=2.0) == 0.0
    assert cosine_lr_factor(1.0, 10, warmup=2.0) == pytest.approx(0.5)
    assert cosine_lr_factor(2.0, 10, warmup=2.0) == pytest.approx(1.0)
    assert cosine_lr_factor(6.0, 10, warmup=2.0, final=0.1) == pytest.approx(0.1 + 0.9 * 0.5)  # half way down
    assert cosine_lr_factor(8.0, 10, warmup=2.0, final=0.0) == pytest.approx(0.5 * (1 + math.cos(0.75 * math.pi)))
    assert cosine_lr_factor(10.0, 10, final=0.01) == pytest.approx(0.01)
    assert cosine_lr_factor(25.0, 10, final=0.01) == 0.01  # a resumed run past the schedule
    assert cosine_lr_factor(0.0, 10) == 1.0  # no warm-up


def fu_reference(num_epochs, n_cycle, ratio, start=0.0, stop=1.0):
    """Fu et al.'s frange_cycle_linear as published (a loop over a num_epochs-long array)."""
    beta = np.full(num_epochs, stop, dtype=np.float64)
    period = num_epochs / n_cycle
    step = (stop - start) / (period * ratio)
    for cycle in range(n_cycle):
        value, i = start, 0
        while value <= stop and int(i + cycle * period) < num_epochs:
            beta[int(i + cycle * period)] = value
            value += step
            i += 1
    return beta


@pytest.mark.parametrize("n", [1, 2, 7, 10, 13, 70, 101])
@pytest.mark.parametrize("cycles", [1, 2, 3, 4, 10])
@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5, 0.7, 1.0, 1.5])
def test_the_one_epoch_value_equals_the_published_vector(n, cycles, ratio):
    np.testing.assert_allclose(linear_cyclical_schedule(n, cycles, ratio, stop=0.5),
                               fu_reference(n, cycles, ratio, stop=0.5), atol=1e-9)


def test_a_huge_num_epoch_costs_one_value():
    for num_epoch in (10**8, 10**10, 999999999999999999999):
        assert kl_beta(1, "Cyclical", num_epoch, 10, 0.5) == pytest.approx(2 * 10 / num_epoch)
        assert kl_beta(num_epoch - 1, "Monotonic", num_epoch, 1, 0.5) == 1.0


def test_more_kl_cycles_than_epochs_cost_one_value():
    started = time.perf_counter()
    assert kl_beta(1, "Cyclical", 2, 10**7, 0.5) == 0.0  # every epoch begins a cycle
    assert time.perf_counter() - started < 0.5  # the step-by-step search took seconds here, hung for 10**18
    for n_cycle in (10**18, 10**400):
        assert kl_beta(1, "Cyclical", 2, n_cycle, 0.5) == 0.0
