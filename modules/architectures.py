"""The model a config describes: ``--arch template`` (VAE_Model, the course's networks) or
``pyramid`` (PyramidVAE, multi-scale networks with the same wiring and interface)."""
from .config import ARCHS, model_kwargs
from .errors import UserInputError
from .pyramid import SCALE, PyramidVAE
from .vae import VAE_Model

# Flags of the template networks that PyramidVAE has no use for, with their template defaults.
TEMPLATE_ONLY = {"fix_leaky_relu": False, "output_mode": "template", "init": "default"}
PYRAMID_ONLY = ("anchor_mean", "anchor_attention", "output_head", "prev_input")  # ignored by --arch template


def build_vae(config):
    """The VAE_Model or PyramidVAE of ``config`` (a Namespace or dict holding MODEL_KEYS)."""
    kwargs = model_kwargs(config)
    arch = kwargs.pop("arch")
    if arch == "template":
        if kwargs["output_head"] != "anchored":
            raise UserInputError(f"--output_head {kwargs['output_head']}: only for --arch pyramid (--arch template "
                                 "has --output_mode)")
        if kwargs["prev_input"] != "previous":
            raise UserInputError(f"--prev_input {kwargs['prev_input']}: only for --arch pyramid")
        return VAE_Model(**{key: value for key, value in kwargs.items() if key not in PYRAMID_ONLY})
    if arch == "pyramid":
        check_pyramid_frame_size(_get(config, "frame_H"), _get(config, "frame_W"))
        given = [f"--{key} {kwargs[key]}" for key, default in TEMPLATE_ONLY.items() if kwargs[key] != default]
        if given:
            raise UserInputError(f"{', '.join(given)}: only for --arch template (--arch pyramid has its own "
                                 "init and anchors its output on the first frame)")
        return PyramidVAE(**{key: kwargs[key] for key in ("F_dim", "L_dim", "N_dim", "D_out_dim")},
                          anchor_mean=kwargs["anchor_mean"], anchor_attention=kwargs["anchor_attention"],
                          output_head=kwargs["output_head"], prev_input=kwargs["prev_input"])
    raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")


def drop_unused_flags(cfg):
    """Reset the pyramid-only flags of an ``--arch template`` config to their defaults, with a note, so the
    config stored in its checkpoints says what the model is."""
    if cfg.arch != "template":
        return
    defaults = model_kwargs({})
    unused = [key for key in PYRAMID_ONLY if getattr(cfg, key) != defaults[key]]
    if unused:
        print(f"note: {' '.join('--' + key for key in unused)} ignored: only for --arch pyramid")
    for key in unused:
        setattr(cfg, key, defaults[key])


def check_pyramid_frame_size(frame_H, frame_W):
    """--arch pyramid halves the frames twice: refuse a size it cannot take before any data is decoded
    (``None``: not known here, the model checks the frames it gets)."""
    if frame_H is None or frame_W is None:
        return
    if frame_H % SCALE or frame_W % SCALE:
        raise UserInputError(f"--arch pyramid needs --frame_H and --frame_W divisible by {SCALE}, got "
                             f"{frame_H}x{frame_W} (e.g. {frame_H - frame_H % SCALE}x{frame_W - frame_W % SCALE})")


def _get(config, key):
    return config.get(key) if isinstance(config, dict) else getattr(config, key, None)
