"""Which model a config describes: ``--arch template`` (VAE_Model, the course's networks) or
``pyramid`` (PyramidVAE, multi-scale networks with the same wiring and interface).

A model is built from its own small config (:class:`~modules.vae.TemplateConfig`,
:class:`~modules.pyramid.PyramidConfig`); :func:`model_config` makes it from flags held in a plain
dict (the command line's, or those a checkpoint stores) and is the one place that reads them.
"""
from dataclasses import asdict, fields

from .errors import UserInputError
from .pyramid import SCALE, PyramidConfig, PyramidVAE
from .vae import OUTPUT_MODES, TemplateConfig, VAE_Model

MODELS = {"template": (TemplateConfig, VAE_Model), "pyramid": (PyramidConfig, PyramidVAE)}
ARCHS = tuple(MODELS)
# The last commit whose code builds the model variants retired since (see retired_variant).
RETIRED_AT = "fcccd1a"
# Flags of the template networks that PyramidVAE has no use for, with their template defaults
# (modules.config.check_flags_fit refuses them on the command line, naming a preset that set them).
TEMPLATE_ONLY = {"fix_leaky_relu": False, "output_mode": "template"}
# Widths a config may ask for: beyond this the model would not fit any machine's memory.
MAX_WIDTH = 1024


def model_config(flags):
    """The model config of ``flags`` (a dict holding ``arch`` and the fields of that arch's config;
    missing fields take the config's defaults). Refuses an unknown arch or a field of the wrong type."""
    arch = flags.get("arch", "template")
    if arch not in MODELS:
        raise UserInputError(f"unknown arch {arch!r}: choose one of {', '.join(ARCHS)}")
    config_class = MODELS[arch][0]
    if arch == "pyramid":
        check_pyramid_frame_size(flags.get("frame_H"), flags.get("frame_W"))
        given = [f"--{key} {flags[key]}" for key, default in TEMPLATE_ONLY.items() if flags.get(key, default) != default]
        if given:
            raise UserInputError(f"{', '.join(given)}: only for --arch template (--arch pyramid has its own init "
                                 "and output head)")
    values = {f.name: flags[f.name] for f in fields(config_class) if f.name in flags}
    for name, value in values.items():
        _check_field(config_class, name, value)
    return config_class(**values)


def _check_field(config_class, name, value):
    """One field of a model config: a bool, an output mode, or a width in [1, MAX_WIDTH] (N_dim >= 4)."""
    default = getattr(config_class, name)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif name == "output_mode":
        ok = value in OUTPUT_MODES
    else:
        low = 4 if name == "N_dim" else 1
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_WIDTH
    if not ok:
        raise UserInputError(f"model config {name}={value!r} is not valid for --arch "
                             f"{arch_of(config_class)} (expected {_expected(name, default)})")


def _expected(name, default):
    if isinstance(default, bool):
        return "true or false"
    if name == "output_mode":
        return f"one of {', '.join(OUTPUT_MODES)}"
    return f"an integer in [{4 if name == 'N_dim' else 1}, {MAX_WIDTH}]"


def arch_of(config):
    """The ``--arch`` name of a model config (or of its class)."""
    config_class = config if isinstance(config, type) else type(config)
    return next(arch for arch, (cls, _) in MODELS.items() if cls is config_class)


def config_dict(config):
    """A model config as the plain dict a checkpoint stores: ``arch`` and its fields."""
    return {"arch": arch_of(config), **asdict(config)}


def build_vae(config):
    """The VAE_Model or PyramidVAE of a model config."""
    return MODELS[arch_of(config)][1](**asdict(config))


def retired_variant(stored):
    """What a checkpoint's stored flags (a dict, from before model configs were stored) ask for that no
    longer exists, or None. Their defaults were the old choices, so a missing key means the old one."""
    if stored.get("arch", "template") == "pyramid":
        asked = {"output_head": stored.get("output_head", "anchored"),
                 "prev_input": stored.get("prev_input", "previous"),
                 "anchor_attention": stored.get("anchor_attention", False),
                 "anchor_mean": stored.get("anchor_mean", True)}
        today = {"output_head": "composite", "prev_input": "first", "anchor_attention": False, "anchor_mean": True}
    else:
        asked = {"output_mode": stored.get("output_mode", "template")}
        today = {"output_mode": asked["output_mode"] if asked["output_mode"] in OUTPUT_MODES else "template"}
    retired = [f"--{key} {value}" for key, value in asked.items() if value != today[key]]
    return " ".join(retired) or None


def checkpoint_model_config(ckpt, path, flags):
    """The model config of a loaded checkpoint: its stored ``model_config``; for an older checkpoint of
    ours, its stored flags (refused, naming what it needs, when they ask for a retired variant); for a
    course-template checkpoint (which stores none), ``flags``, the command line's."""
    stored = ckpt.get("model_config")
    if stored is not None:
        if not isinstance(stored, dict):
            raise UserInputError(f"checkpoint {path}: its model_config is not a dict")
        return model_config(stored)
    legacy = ckpt.get("config") or {}
    if not legacy:
        return model_config(flags)
    retired = retired_variant(legacy)
    if retired:
        raise UserInputError(f"checkpoint {path} is of a retired model variant ({retired}): this version builds "
                             f"--arch pyramid with the composite head and frame-0 decoding only; load it with "
                             f"the repo at commit {RETIRED_AT} (git checkout {RETIRED_AT}), or train anew")
    return model_config(legacy)


def check_pyramid_frame_size(frame_H, frame_W):
    """--arch pyramid halves the frames twice: refuse a size it cannot take before any data is decoded
    (``None``: not known here, the model checks the frames it gets)."""
    if frame_H is None or frame_W is None:
        return
    if frame_H % SCALE or frame_W % SCALE:
        raise UserInputError(f"--arch pyramid needs --frame_H and --frame_W divisible by {SCALE}, got "
                             f"{frame_H}x{frame_W} (e.g. {frame_H - frame_H % SCALE}x{frame_W - frame_W % SCALE})")
