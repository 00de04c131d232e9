"""A trained model for evaluation: load it from a checkpoint, describe it, find where its outputs go.

A checkpoint of ours carries its config, so the network flags come from it; a course-template
checkpoint has none (config {}), so they come from the command line, whose defaults are the
template's widths.
"""
import json
import tempfile
from pathlib import Path

import torch

from ..architectures import build_vae, checkpoint_model_config, config_dict
from ..checkpoint import load_checkpoint, load_model_weights
from ..config import MODEL_KEYS, take_model_flags
from ..errors import UserInputError
from ..io import remove_stale_temp_files
from ..runtime import resolve_device


def load_inference_model(cfg):
    """Build the model of ``cfg.ckpt_path`` in eval mode on ``cfg.device``.

    The model config comes from the checkpoint and is written into ``cfg``'s network flags (MODEL_KEYS);
    a template checkpoint keeps the flags' values. Returns (model, device, checkpoint dict).
    Raises UserInputError for a missing, unreadable or mismatched checkpoint.
    """
    if not cfg.ckpt_path:
        raise UserInputError("no checkpoint given: pass --ckpt_path <file.pt> (e.g. runs/<run>/checkpoints/best.pt)")
    ckpt = load_checkpoint(cfg.ckpt_path)
    config = checkpoint_model_config(ckpt, cfg.ckpt_path, vars(cfg))
    take_model_flags(cfg, config_dict(config))
    model = build_vae(config)
    load_model_weights(model, ckpt["model"], cfg.ckpt_path, from_flags=bool(ckpt.get("template")))
    device = resolve_device(cfg.device)
    model.to(device).eval()
    if getattr(cfg, "channels_last", False):
        model.to(memory_format=torch.channels_last)
    return model, device, ckpt


def describe_model(cfg, ckpt):
    source = "course-template checkpoint, widths from the flags" if ckpt.get("template") else "from the checkpoint"
    flags = " ".join(f"{k}={getattr(cfg, k)}" for k in MODEL_KEYS)
    return f"model ({source}, epoch {ckpt.get('epoch', '?')}): {flags}"


def default_output_dir(ckpt_path):
    """The run folder of a checkpoint: ``runs/x`` for ``runs/x/checkpoints/best.pt``, else its folder."""
    folder = Path(ckpt_path).resolve().parent
    return folder.parent if folder.name == "checkpoints" else folder


def prepare_output_dir(save_root, ckpt_path, summary_name=None, writes=()):
    """Create ``save_root`` (default: the checkpoint's run folder) and check it is writable, before
    any long computation; remove the temporary files a killed run left for the outputs ``writes``
    (file stems). ``summary_name``: the JSON summary the tool writes there, which names its checkpoint:
    when the default folder already holds the outputs of another checkpoint, this checkpoint's go to
    the subfolder named after it (``runs/x/epoch_001/``) instead of replacing them."""
    out = Path(save_root) if save_root else default_output_dir(ckpt_path)
    other = _outputs_of_another_checkpoint(out / summary_name, ckpt_path) if summary_name else None
    if other and not save_root:
        out = out / Path(ckpt_path).stem
        print(f"note: {default_output_dir(ckpt_path) / summary_name} holds the outputs of {other}: writing "
              f"those of {ckpt_path} to {out}")
    elif other:
        print(f"note: replacing the outputs of {other} in {out}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise UserInputError(f"cannot write to the output folder {out} ({err.strerror or err}): "
                             f"pass a writable --save_root") from err
    remove_stale_temp_files(out, writes)
    return out


def _outputs_of_another_checkpoint(summary, ckpt_path):
    """The checkpoint named in an existing ``summary`` JSON when it is not ``ckpt_path``; else None."""
    try:
        other = json.loads(summary.read_text()).get("checkpoint")
    except (OSError, ValueError, AttributeError):
        return None
    if not other or Path(other).resolve() == Path(ckpt_path).resolve():
        return None
    return other
