"""An exponential moving average of the weights (``--ema_decay``), the model that is validated and saved.

At a constant learning rate the weights wander around the minimum from step to step (the lab4 runs'
val PSNR moves by ~0.5 dB between validations); their running average sits nearer its middle. On
lab4_gif the plain average of three checkpoints 180 steps apart raised seq2's silhouette IoU by ~0.01 in
each of three seeds (docs/history.md). The average is what a checkpoint's ``model`` holds (so Tester.py,
val_PSNR.py and a template reader use it unchanged); the weights being trained travel beside it as
``train_model``, to resume from.

The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the first steps'
random weights leave the average quickly.
"""
import copy

import torch


def ema_decay_at(decay, updates):
    """The decay of update number ``updates`` (0-based): ``decay``, lower while few updates are averaged."""
    return min(decay, (1 + updates) / (10 + updates))


class WeightAverage:
    """An EMA copy of ``model`` (parameters and floating buffers), updated by :meth:`update` after each
    optimiser step; ``decay`` in [0, 1)."""

    def __init__(self, model, decay):
        if not 0 <= decay < 1:
            raise ValueError(f"--ema_decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model):
        """Move the average toward ``model``'s weights: avg += (1 - decay_at) * (weights - avg)."""
        weight = 1 - ema_decay_at(self.decay, self.updates)
        for average, current in zip(_floating_tensors(self.model), _floating_tensors(model)):
            average.lerp_(current, weight)
        self.updates += 1

    def state(self):
        return {"updates": self.updates}

    def load(self, weights, state):
        """Restore an average saved by a run with ``--ema_decay`` (its ``model`` weights and :meth:`state`)."""
        self.model.load_state_dict(weights)
        self.updates = int(state.get("updates", 0))


def _floating_tensors(model):
    return [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
