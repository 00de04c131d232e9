"""Checkpoints: a dict of state_dicts + counters + config, written atomically, loaded safely.

Our format: {"format": "lab4-cvae/1", "model", "optimizer", "scheduler", "epoch" (the next epoch
to train), "best_psnr", "config" (plain dict), "rng"}. The course template's format,
{"state_dict", "optimizer", "lr", "tfr", "last_epoch"}, is read too (model weights only; its
"optimizer" entry holds model weights, not optimizer state).
"""
import random
from pathlib import Path

import torch

from .errors import UserInputError, require_file
from .io import save_torch

FORMAT = "lab4-cvae/1"


def save_checkpoint(path, state):
    """Write ``state`` to ``path`` via a temp file + rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_torch({"format": FORMAT, **state}, path)


def load_checkpoint(path):
    """Load a checkpoint (ours or the template's) with ``weights_only=True``.

    Returns our format; a template checkpoint becomes {"model": ..., "epoch": last_epoch,
    "config": {}, "template": True}.
    """
    path = require_file(path, "checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt or foreign files
        raise UserInputError(f"checkpoint {path} could not be read ({type(err).__name__}: {err})") from err
    if not isinstance(ckpt, dict):
        raise UserInputError(f"checkpoint {path} is not a dict of state (got {type(ckpt).__name__})")
    if ckpt.get("format") == FORMAT:
        return ckpt
    if "state_dict" in ckpt:
        return {"model": ckpt["state_dict"], "epoch": int(ckpt.get("last_epoch", 0)), "config": {},
                "template": True}
    raise UserInputError(f"checkpoint {path} is neither this repo's format nor the course template's "
                         f"(keys: {sorted(ckpt)[:8]})")


def load_model_weights(model, state_dict, path="checkpoint"):
    """``model.load_state_dict(strict=True)`` with a readable error listing what does not match."""
    own = model.state_dict()
    state_dict = {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in state_dict.items()}
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong_shape = sorted(k for k in set(own) & set(state_dict) if own[k].shape != state_dict[k].shape)
    if missing or unexpected or wrong_shape:
        lines = [f"{path} does not fit the model built from the flags:"]
        for name, keys in (("missing", missing), ("unexpected", unexpected)):
            if keys:
                lines.append(f"  {name} keys ({len(keys)}): {', '.join(keys[:6])}{' ...' if len(keys) > 6 else ''}")
        for key in wrong_shape[:6]:
            lines.append(f"  {key}: checkpoint {tuple(state_dict[key].shape)} vs model {tuple(own[key].shape)}")
        widths = widths_from_state_dict(state_dict)
        if widths:
            flags = " ".join(f"--{k} {v}" for k, v in widths.items())
            lines.append(f"  the checkpoint's widths are {flags}: pass these flags")
        else:
            lines.append("  the widths must match: check --F_dim --L_dim --N_dim --D_out_dim")
        raise UserInputError("\n".join(lines))
    model.load_state_dict(state_dict, strict=True)


def widths_from_state_dict(state_dict):
    """Read F_dim, L_dim, N_dim, D_out_dim off the weights of a VAE_Model; {} if they are not there."""
    shapes = {
        "F_dim": ("frame_transformation.6.weight", 1),
        "L_dim": ("label_transformation.4.conv1.weight", 1),
        "N_dim": ("Gaussian_Predictor.6.weight", 2),
        "D_out_dim": ("Decoder_Fusion.5.weight", 1),
    }
    if not all(key in state_dict for key, _ in shapes.values()):
        return {}
    return {flag: state_dict[key].shape[0] // div for flag, (key, div) in shapes.items()}


def rng_state():
    """The RNG states a resumed run needs (plain tensors/tuples, loadable with weights_only)."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
