"""Any --seed works: torch takes 64 bits, and a seed torch took keeps its random numbers."""
import random

import torch

from conftest import TINY_WIDTHS
from modules.eval.rollout import generate
from modules.train.setup import seed_epoch
from modules.vae import VAE_Model


def test_seed_epoch_takes_any_int_and_keeps_the_seeds_that_fit():
    assert seed_epoch(3, 2) == 3 * 100_003 + 2 == torch.initial_seed()
    coins = random.random()
    assert seed_epoch(3, 2, rank=1) == 300_011 and torch.initial_seed() == 300_011 + 1_000_003
    assert random.random() == coins  # the coins are the same on every rank
    for seed in (10**15, 99999999999999999999, -10**30):  # 10**15 * 100_003 passed 2**64: a traceback
        value = seed_epoch(seed, 1)
        assert 0 <= value < 2**64 and torch.initial_seed() == value


def test_any_rollout_seed_works_and_one_torch_took_keeps_its_latents():
    torch.manual_seed(0)
    model = VAE_Model(**TINY_WIDTHS).eval()
    first, poses = torch.rand(1, 3, 32, 64), torch.rand(1, 3, 3, 32, 64)
    assert torch.equal(generate(model, first, poses, seed=10**20), generate(model, first, poses, seed=10**20 - 2**64))
    assert torch.equal(generate(model, first, poses, seed=-1), generate(model, first, poses, seed=2**64 - 1))
