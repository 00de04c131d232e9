"""Checkpoints: a dict of state_dicts + counters + config, written atomically, loaded safely.

Our format: {"format": "lab4-cvae/1", "model", "optimizer", "scheduler", "epoch" (the next epoch
to train), "best_psnr", "config" (plain dict), "rng"}. The course template's format,
{"state_dict", "optimizer", "lr", "tfr", "last_epoch"}, is read too (model weights only; its
"optimizer" entry holds model weights, not optimizer state).
"""
import random
import re
from pathlib import Path

import torch

from .architectures import RETIRED_AT
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
        raise UserInputError(refusal_message(path, err)) from None
    if not isinstance(ckpt, dict):
        raise UserInputError(f"checkpoint {path} is not a dict of state (got {type(ckpt).__name__})")
    if ckpt.get("format") == FORMAT:
        return _checked(ckpt, path, {"model": "model", "epoch": "epoch"})
    if "state_dict" in ckpt:
        ckpt = _checked({"last_epoch": 0, **ckpt}, path, {"model": "state_dict", "epoch": "last_epoch"})
        return {"model": ckpt["state_dict"], "epoch": ckpt["last_epoch"], "config": {}, "template": True}
    raise UserInputError(f"checkpoint {path} is neither this repo's format nor the course template's "
                         f"(keys: {sorted(ckpt)[:8]})")


def _checked(ckpt, path, keys):
    """``ckpt`` after checking, as data, what the code reads of it (``keys``: where its weights and its
    next epoch are): a dict of tensors, an epoch count >= 0, a finite-or-(-inf) best PSNR, dicts of config."""
    def refuse(what):
        raise UserInputError(f"checkpoint {path} is not usable: {what}")
    weights = ckpt.get(keys["model"])
    if not isinstance(weights, dict) or not all(torch.is_tensor(v) for v in weights.values()):
        refuse(f"its {keys['model']!r} entry is missing or not a dict of tensors")
    epoch = ckpt.get(keys["epoch"])
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        refuse(f"its {keys['epoch']!r} entry is {epoch!r}, not a count of epochs (an integer >= 0)")
    best = ckpt.get("best_psnr", 0.0)
    if isinstance(best, bool) or not isinstance(best, (int, float)) or best != best:
        refuse(f"its best_psnr is {best!r}, not a number")
    for key in ("config", "model_config"):
        if not isinstance(ckpt.get(key, {}), dict):
            refuse(f"its {key} is not a dict")
    return ckpt


# -- files that are not tensors-only checkpoints ----------------------------------------------------
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since torch 1.6
PICKLE_MAGIC = b"\x80"  # a pickle protocol opcode: torch.save's legacy format, or plain pickle
LFS_POINTER = "version https://git-lfs"
CONVERT_COMMAND = "python convert_checkpoint.py {src} {dst}"


def converted_path(path):
    """Where convert_checkpoint.py writes the tensors-only copy of ``path`` by default."""
    path = Path(path)
    return path.with_name(f"{path.stem}.safe.pt")


def refusal_message(path, err):
    """Why ``path`` was not loaded, in plain words.

    torch's own message advises re-running with ``weights_only=False``, i.e. running whatever code the
    file holds; here the user learns what the file is, that nothing was loaded, and (for a pickle with
    Python objects) the one command that converts a file they trust."""
    head = Path(path).read_bytes()[:64]
    if not head:
        return f"checkpoint {path} is an empty file, not a PyTorch checkpoint; nothing was loaded"
    if not head.startswith((ZIP_MAGIC, PICKLE_MAGIC)) and _looks_like_text(head):
        start = head.decode("utf-8", "replace").splitlines()[0][:40]
        lfs = " (a Git LFS pointer: fetch the real file with git lfs pull)" if start.startswith(LFS_POINTER) else ""
        return (f"checkpoint {path} is a text file (it starts with {start!r}), not a PyTorch checkpoint{lfs}; "
                f"nothing was loaded")
    if not head.startswith((ZIP_MAGIC, PICKLE_MAGIC)):
        return (f"checkpoint {path} is not a PyTorch checkpoint (neither torch.save's zip format nor a pickle); "
                f"nothing was loaded")
    text = str(err)
    # torch's refusal of a pickled object, in each of its wordings: "Unsupported global: GLOBAL x.y was not
    # an allowed global", "Trying to load unsupported GLOBAL posix.system whose module posix is blocked"
    # (os, subprocess, builtins: the dangerous files)
    unsafe = re.search(r"GLOBAL ([\w.]+)", text)
    if unsafe:
        command = CONVERT_COMMAND.format(src=path, dst=converted_path(path))
        return (f"{path}: not a tensors-only checkpoint: refused for safety (it holds a pickled Python object "
                f"({unsafe.group(1)}), and unpickling it could run arbitrary code; nothing was loaded); convert "
                f"it only if you trust its source (e.g. a course template checkpoint you saved yourself) and "
                f"pass the copy to --ckpt_path:\n  {command}")
    # torch's "Weights only load failed" opens with advice to load with weights_only=False: quote its detail
    detail = re.search(r"WeightsUnpickler error:\s*(\S.*)", text)
    first_line = text.strip().splitlines()[0][:200] if text.strip() else type(err).__name__
    reason = detail.group(1) if detail else first_line
    return f"checkpoint {path} could not be read, it is truncated or corrupt ({reason}); nothing was loaded"


def _looks_like_text(head):
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c >= 32 or c in b"\t\n\r" for c in head)


def tensors_only(obj, where="checkpoint", dropped=None):
    """``obj`` with every value torch.load(weights_only=True) refuses replaced by an allowed one:
    a module by its state_dict, numpy scalars/arrays by Python numbers/tensors; anything else is left
    out and named in ``dropped``. Used only on a file the user trusts (convert_checkpoint.py)."""
    import numpy as np

    dropped = [] if dropped is None else dropped
    if isinstance(obj, torch.nn.Module):
        return dict(obj.state_dict())
    if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass, refused all the same
        return obj.item()
    if torch.is_tensor(obj) or obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj)
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            kept = tensors_only(value, f"{where}[{key!r}]", dropped)
            if kept is not _DROPPED:
                out[key] = kept
        return out
    if isinstance(obj, (list, tuple)):
        items = [tensors_only(v, f"{where}[{i}]", dropped) for i, v in enumerate(obj)]
        return type(obj)(v for v in items if v is not _DROPPED)
    dropped.append(f"{where} ({type(obj).__module__}.{type(obj).__qualname__})")
    return _DROPPED


_DROPPED = object()


def convert_trusted_checkpoint(src, dst):
    """Load ``src`` with ``weights_only=False`` (runs any code it holds: only for a trusted file), write
    its tensors-only content to ``dst`` and check that it loads safely. Returns what was left out."""
    try:
        obj = torch.load(src, map_location="cpu", weights_only=False)
    except Exception as err:  # a truncated zip, a Git LFS pointer, a text file: named as the loader names them
        raise UserInputError(refusal_message(src, err).replace("nothing was loaded", "nothing was written")) from None
    if isinstance(obj, torch.nn.Module):  # torch.save(model): its weights in the template's format
        obj = {"state_dict": obj.state_dict(), "last_epoch": 0}
    dropped = []
    state = tensors_only(obj, dropped=dropped)
    if not isinstance(state, dict):
        raise UserInputError(f"{src} holds a {type(obj).__name__}, not a checkpoint dict or a model")
    if state.get("format") != FORMAT and "state_dict" not in state:
        raise UserInputError(f"{src} is neither this repo's checkpoint format nor the course template's (keys: "
                             f"{sorted(map(str, state))[:8]}); nothing was written")
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    save_torch(state, dst)
    load_checkpoint(dst)
    return dropped


def load_model_weights(model, state_dict, path="checkpoint", from_flags=True):
    """``model.load_state_dict(strict=True)`` with a readable error listing what does not match and what to
    do: the --arch or width flags to pass when the model was built from the flags (``from_flags``: a course
    template checkpoint), or that the stored config disagrees with the weights (our format)."""
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
        lines.append("  " + _mismatch_advice(state_dict, own, from_flags))
        raise UserInputError("\n".join(lines))
    model.load_state_dict(state_dict, strict=True)


def _mismatch_advice(state_dict, own, from_flags):
    """What to do about weights that do not fit: a retired variant's, the --arch, then the widths."""
    retired = retired_weights(state_dict)
    if retired:
        return (f"the weights are those of a retired pyramid variant ({retired}): load them with the repo at "
                f"commit {RETIRED_AT} (git checkout {RETIRED_AT}), or train anew")
    stored, built = arch_of_weights(state_dict), arch_of_weights(own)
    if stored and built and stored != built:
        if from_flags:
            return f"the checkpoint holds --arch {stored} weights, the model is --arch {built}: pass --arch {stored}"
        return (f"the checkpoint holds --arch {stored} weights but its stored config says --arch {built}: the "
                f"file is inconsistent (edited?); the flags cannot change a stored config")
    widths = widths_from_state_dict(state_dict)
    if widths and from_flags:
        return f"the checkpoint's widths are {' '.join(f'--{k} {v}' for k, v in widths.items())}: pass these flags"
    if widths:
        return ("its stored config does not match its weights (widths "
                f"{' '.join(f'--{k} {v}' for k, v in widths.items())}): the file is inconsistent (edited?)")
    return "the widths must match: check --arch --F_dim --L_dim --N_dim --D_out_dim"


def retired_weights(state_dict):
    """The flags of the retired pyramid variant whose weights these are (None for today's models)."""
    retired = []
    if "Generator.head.weight" in state_dict and arch_of_weights(state_dict) == "pyramid":
        retired.append("--output_head anchored")
    if any(key.startswith("Decoder_Fusion.attention.") for key in state_dict):
        retired.append("--anchor_attention")
    return " ".join(retired) or None


def arch_of_weights(state_dict):
    """``template`` or ``pyramid``: which network a state_dict belongs to (None when neither)."""
    if any(key.startswith("frame_transformation.stem.") for key in state_dict):
        return "pyramid"
    return "template" if "frame_transformation.6.weight" in state_dict else None


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
