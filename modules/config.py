"""The one definition of every flag and its default (the course template's names and defaults).

Every command-line parser of the repo is built here from shared option groups: Trainer.py,
Tester.py and val_PSNR.py (the template's three), score.py, make_dataset.py and experiments.py.
The parsed config is stored in every checkpoint as a plain dict, so the evaluation scripts
rebuild the model from ``--ckpt_path`` alone. This file imports no torch, so a CLI that only
reads files (``experiments.py --plot_only``, ``score.py --answer``) starts without it.
"""
import argparse
import math
import os
import sys
from pathlib import Path

from .errors import UserInputError
from .schedules import KL_ANNEAL_TYPES, LR_SCHEDULES

# The course's fixed sizes: frames are 3 x FRAME_H x FRAME_W, validation and test videos VIDEO_LEN
# frames long (the flags below default to them).
FRAME_H, FRAME_W = 32, 64
VIDEO_LEN = 630
FRAME_SHAPE = (3, FRAME_H, FRAME_W)

# Choices of the model options (modules.architectures and modules.vae check them too).
ARCHS = ("template", "pyramid")
OUTPUT_MODES = ("template", "anchored")
TRAIN_AMP_DEFAULT = "auto"
AMP_MODES = ("none", "bf16", "fp16", "auto")
VAL_PSNR_MODES = ("prior", "zero", "best_of_k")

# The embedded synthetic dataset's defaults (make_dataset.py synthetic; modules.data.synthetic).
SYNTHETIC_DEFAULTS = {"seed": 0, "frame_size": (64, 128), "n_train_videos": 8, "train_video_len": 400,
                      "val_len": VIDEO_LEN, "n_test": 5, "test_len": VIDEO_LEN, "dancers": "one"}
# make_dataset.py import: a course GIF frame lasting k * GIF_FRAME_MS stands for k frames (50 frames/s).
GIF_FRAME_MS = 20
FILL_MODES = ("repeat", "drop")
# make_dataset.py import --dedither: a neighbour joins the 3x3 blur when every channel is within this many
# levels of the centre pixel (modules/data/dither.py says why 64).
DITHER_EDGE = 64
# Trainer.py --augment: training-clip augmentations (modules/data/augment.py says what each does).
AUGMENTS = ("offset", "shift", "nearer")
# make_dataset.py synthetic --dancers: one dancer in one studio per dataset, or a new one per video.
DANCER_MODES = ("one", "per_video")

# Flags that define the network: the evaluation scripts take them from the checkpoint.
MODEL_KEYS = ("arch", "F_dim", "L_dim", "N_dim", "D_out_dim", "fix_leaky_relu", "output_mode")

# Documented presets: explicit flag values applied as defaults (flags given on the command line
# still win). The template's own defaults are untouched. Why each value: docs/training.md.
PRESETS = {
    # The report's ablations on a CPU (experiments.py): the template networks at 16x cheaper widths with
    # the anchored output (starts as a copy of the first frame); free-running training; KL averaged
    # per latent number at beta = 1; a constant learning rate.
    "cpu_quick": {
        "F_dim": 32, "L_dim": 8, "N_dim": 4, "D_out_dim": 48, "fix_leaky_relu": True, "output_mode": "anchored",
        "kl_reduction": "mean", "kl_anneal_type": "None", "batch_size": 2, "train_vi_len": 16, "lr": 2e-3,
        "milestones": [], "num_epoch": 4, "partial": 1.0, "num_workers": 0, "per_save": 2, "tfr": 0.0,
    },
    # The CPU quick start (README): the pyramid model, training clips with far anchors, KL averaged per
    # latent number at beta = 1, clips of 8 at batch 2 (at the same compute, twice the steps of batch 4
    # learned more: docs/training.md), 3 epochs (600 steps) under a cosine lr, validated after the last.
    "cpu_pyramid": {
        "arch": "pyramid", "F_dim": 64, "L_dim": 32, "N_dim": 8, "D_out_dim": 96,
        "kl_reduction": "mean", "kl_anneal_type": "None", "batch_size": 2, "train_vi_len": 8, "anchor_gap": 400,
        "lr": 2e-3, "milestones": [], "partial": 1.0, "num_workers": 0, "tfr": 0.0,
        "num_epoch": 3, "lr_schedule": "cosine", "lr_warmup": 0.3, "val_every": 3, "per_save": 3,
    },
    # The real course data on a GPU (README, "The real dataset"): the quick start's model and recipe at a
    # batch a GPU affords, clips from anywhere, shifted a little (the lab4_gif runs' recipe), for a length in
    # steps (~99 epochs of the 23,410-frame train set, 182 steps each; a smaller dataset trains as long).
    # The length is not measured on the full data.
    "lab4": {
        "arch": "pyramid", "F_dim": 64, "L_dim": 32, "N_dim": 8, "D_out_dim": 96,
        "kl_reduction": "mean", "kl_anneal_type": "None", "batch_size": 8, "train_vi_len": 16, "anchor_gap": 400,
        "augment": ["offset", "shift"], "lr": 2e-3, "milestones": [], "partial": 1.0, "num_workers": 0, "tfr": 0.0,
        "train_steps": 18_000,
    },
}


def _number(text, kind):
    """``kind(text)``, finite: a typo or 'nan' is an argparse error, not a traceback later."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _int_at_least(minimum, why="", maximum=None, too_big=""):
    """An argparse type: an integer >= ``minimum`` (``why`` says what needs it) and, with ``maximum``,
    <= it (``too_big`` says why)."""
    def parse(text):
        value = _number(text, int)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}{why}, got {text}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be an integer <= {maximum}{too_big}, got {text}")
        return value
    parse.__name__ = f"integer >= {minimum}"
    return parse


# Bounds a machine can serve: wider networks or larger frames would not fit any memory (a run at the
# course's 32x64 and widths of 128 needs ~4 GB); counts beyond them are typos.
MAX_WIDTH = 1024  # modules.architectures checks stored configs against the same bound
MAX_FRAME_SIDE = 2048
MAX_COUNT = 10 ** 9
_positive_int = _int_at_least(1, maximum=MAX_COUNT)
_non_negative_int = _int_at_least(0, maximum=MAX_COUNT)
_width = _int_at_least(1, maximum=MAX_WIDTH, too_big=" (the model would not fit in memory)")
# A clip is a first frame and at least one predicted frame.
_clip_len = _int_at_least(2, " (a first frame and at least one frame to predict)", MAX_COUNT)
# The networks' reflection padding of 3 needs at least 4 pixels per side.
_frame_side = _int_at_least(4, " (the networks pad by 3 pixels)", MAX_FRAME_SIDE,
                            " (the frames are resized to this; the course's model runs at 32x64)")
# Gaussian_Predictor has N_dim // 4 channels.
_latent_dim = _int_at_least(4, " (Gaussian_Predictor has N_dim // 4 channels)", MAX_WIDTH,
                            " (the model would not fit in memory)")
# torch seeds its generators with a 64-bit integer.
_seed = _int_at_least(0, " (a seed)", 2 ** 63 - 1, " (torch seeds with 64 bits)")
# Below this a torchrun rank gives up before its peers have even connected and decoded their data.
MIN_DDP_TIMEOUT_S = 30.0


def _num_workers(text):
    """--num_workers, at most the CPUs this process may use (more only fork processes that wait)."""
    value = _int_at_least(0)(text)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if value > cpus:
        print(f"note: --num_workers {value} lowered to {cpus}, the CPUs this process may use", file=sys.stderr)
    return min(value, cpus)


def _ddp_timeout(text):
    value = _number(text, float)
    if value < MIN_DDP_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"must be >= {MIN_DDP_TIMEOUT_S:.0f} seconds (the ranks need that long to "
                                         f"connect and read their data), got {text}")
    return value


def _positive(text):
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _fraction(text):
    value = _number(text, float)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _probability(text):
    value = _number(text, float)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def _non_negative(text):
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _any_int(text):
    return _number(text, int)


def _frame_size(text):
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 128x256, got {text!r}") from None
    if not (1 <= h <= MAX_FRAME_SIDE and 1 <= w <= MAX_FRAME_SIDE):
        raise argparse.ArgumentTypeError(f"each side must be in [1, {MAX_FRAME_SIDE}], got {text}")
    return h, w


# -- option groups -----------------------------------------------------------------------------------
def add_dataset_args(group, required=False):
    """--DR and the model resolution: what every command that reads a dataset needs."""
    group.add_argument("--DR", type=str, default=None, required=required,
                       help="dataset root in the LAB4 layout" + ("" if required else
                            " (default: the embedded synthetic dataset, generated on first use)"))
    group.add_argument("--frame_H", type=_frame_side, default=FRAME_H)
    group.add_argument("--frame_W", type=_frame_side, default=FRAME_W)


def add_clip_args(group):
    group.add_argument("--train_vi_len", type=_clip_len, default=16)
    group.add_argument("--val_vi_len", type=_clip_len, default=VIDEO_LEN)


def add_data_args(parser):
    group = parser.add_argument_group("data")
    add_dataset_args(group)
    group.add_argument("--save_root", type=str, default=None,
                       help="output folder (Trainer.py default: runs/<date-time>; Tester.py and val_PSNR.py: "
                            "the checkpoint's run folder)")
    group.add_argument("--num_workers", type=_num_workers, default=None,
                       help="DataLoader worker processes (default: 0, as the frames are already in memory; the "
                            "template's default was 4)")
    add_clip_args(group)
    group.add_argument("--seed", type=_seed, default=0, help="seeds data order, latents and coins")


def add_model_args(parser):
    group = parser.add_argument_group("model")
    group.add_argument("--arch", choices=ARCHS, default="template",
                       help="template: the course's full-resolution networks; pyramid: multi-scale networks "
                            "that decode every frame from the first frame, its pose and pose t, through a "
                            "selection among frame 0, frame 0 warped and a generated image")
    group.add_argument("--F_dim", type=_width, default=128)
    group.add_argument("--L_dim", type=_width, default=32)
    group.add_argument("--N_dim", type=_latent_dim, default=12)
    group.add_argument("--D_out_dim", type=_width, default=192)
    group.add_argument("--fix_leaky_relu", action="store_true",
                       help="use LeakyReLU(0.01) where the template's nn.LeakyReLU(True) is the identity")
    group.add_argument("--output_mode", choices=OUTPUT_MODES, default="template",
                       help="--arch template: template: sigmoid(Generator); anchored: sigmoid(logit(first frame) "
                            "+ Generator), starting as a copy of it, with a 1/fan_in init (--preset cpu_quick)")


# Under torchrun, how long a collective waits for the other ranks (torch's default is 30 min). It must cover
# what rank 0 does alone while the others wait: decoding the dataset once, validating and saving an epoch.
DDP_TIMEOUT_S = 600


def add_runtime_args(parser):
    group = parser.add_argument_group("runtime")
    group.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                       help="falls back to cpu with a warning when CUDA is not available")
    group.add_argument("--gpu", type=_positive_int, default=1, help="number of GPUs (>1: launch with torchrun)")
    group.add_argument("--ckpt_path", type=str, default=None)
    group.add_argument("--ddp_timeout", type=_ddp_timeout, default=DDP_TIMEOUT_S, metavar="SECONDS",
                       help="under torchrun: how long a rank waits for a frozen peer before the run stops")


def add_training_args(parser):
    group = parser.add_argument_group("training")
    group.add_argument("--batch_size", type=_positive_int, default=2)
    group.add_argument("--lr", type=_positive, default=0.001)
    group.add_argument("--optim", choices=("Adam", "AdamW"), default="Adam")
    group.add_argument("--milestones", type=_positive_int, nargs="*", default=[2, 5],
                       help="MultiStepLR epochs, lr x 0.1 at each (template: 2 5, which leaves lr at 1e-5 from "
                            "epoch 5 on and is the usual reason runs stall); give none for a constant lr")
    group.add_argument("--lr_schedule", choices=LR_SCHEDULES, default="step",
                       help="step: the template's MultiStepLR (--milestones), once per epoch; cosine: set every "
                            "batch, a linear warm-up over --lr_warmup epochs, then a half cosine to 1%% of --lr "
                            "at the run's first --num_epoch")
    group.add_argument("--lr_warmup", type=_non_negative, default=0.0, help="--lr_schedule cosine: warm-up epochs "
                       "(fractions allowed)")
    group.add_argument("--val_every", type=_positive_int, default=1, metavar="K",
                       help="validate (630-frame rollout, GIF, best.pt) every K epochs and after the last one; "
                            "the epochs between write metrics without val figures and last.pt")
    group.add_argument("--train_steps", type=_positive_int, default=None, metavar="S",
                       help="train for S optimizer steps, whatever the dataset's size: --num_epoch becomes the "
                            "epochs S steps take, and unless given --val_every and --per_save follow (~20 "
                            "validations, ~10 checkpoints); to extend such a run, give a larger S")
    group.add_argument("--test", action="store_true", help="only validate the --ckpt_path model")
    group.add_argument("--store_visualization", action="store_true",
                       help="also save a GIF of the validation rollout every epoch (default: best and last)")
    group.add_argument("--tensorboard", action="store_true",
                       help="also log metrics, the rollout strip and the per-frame PSNR figure to "
                            "<save_root>/tensorboard (needs the optional package: pip install tensorboard)")
    group.add_argument("--num_epoch", type=_positive_int, default=70)
    group.add_argument("--per_save", type=_positive_int, default=3)
    group.add_argument("--partial", type=_fraction, default=1.0)
    group.add_argument("--anchor_gap", type=_non_negative_int, default=0, metavar="G",
                       help="replace each training clip's first frame by one up to G frames earlier in the same "
                            "video, so training sees the far anchors of a long rollout (default 0: the template's)")
    group.add_argument("--augment", nargs="+", choices=AUGMENTS + ("none",), default=[], metavar="A",
                       help="training-clip augmentations, some of: offset (the clip grid starts anywhere each "
                            "epoch), shift (frames and poses by up to 1/16 of the frame), nearer (in half the clips the "
                            "dancer after frame 0 up to twice as tall, pasted on the studio); none: switch off a "
                            "preset's (default: none, the template's)")
    group.add_argument("--tfr", type=_probability, default=1.0)
    group.add_argument("--tfr_sde", type=_non_negative_int, default=10)
    group.add_argument("--tfr_d_step", type=_non_negative, default=0.1)
    group.add_argument("--fast_train", action="store_true")
    group.add_argument("--fast_partial", type=_fraction, default=0.4)
    group.add_argument("--fast_train_epoch", type=_non_negative_int, default=5)
    group.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --save_root (default: refuse, so no run is lost)")
    group.add_argument("--kl_anneal_type", choices=KL_ANNEAL_TYPES, default="Cyclical")
    group.add_argument("--kl_anneal_cycle", type=_positive_int, default=10)
    group.add_argument("--kl_anneal_ratio", type=_positive, default=1.0)
    group.add_argument("--kl_reduction", choices=("sum", "mean"), default="sum",
                       help="sum: template KL (summed over latents / batch); mean: per latent number")
    group.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="apply a documented set of flag values (explicit flags still win)")


def add_speed_args(parser, amp_default="none"):
    group = parser.add_argument_group("speed")
    group.add_argument("--amp", choices=AMP_MODES, default=amp_default,
                       help="autocast dtype (KL and logvar math stay fp32); auto: bf16 where the device runs it "
                            "natively (CUDA compute capability >= 8.0; a CPU with AMX or AVX512-BF16), else none "
                            "(fp32). Default: %(default)s")
    group.add_argument("--channels_last", action=argparse.BooleanOptionalAction, default=None,
                       help="NHWC memory format (default: on for the CPU, off for CUDA)")


def build_train_parser():
    parser = argparse.ArgumentParser(description="Train the pose-conditioned CVAE (NYCU DLP Lab 4).")
    for add in (add_data_args, add_model_args, add_runtime_args, add_training_args):
        add(parser)
    # Training defaults to bf16 where it is fast: it learned as well as fp32 (docs/performance.md).
    # Tester.py and val_PSNR.py stay fp32, so a template checkpoint gives the template's outputs.
    add_speed_args(parser, amp_default=TRAIN_AMP_DEFAULT)
    return parser


def parse_with_preset(parser, argv=None):
    """Parse ``argv``, applying the ``--preset`` values as defaults (flags given still win)."""
    args, _ = parser.parse_known_args(argv)
    if args.preset:
        parser.set_defaults(**PRESETS[args.preset])
    return parser.parse_args(argv)


def given_flags(build_parser, argv=None):
    """The flags (dest names) ``argv`` sets: typed, or set by its ``--preset``."""
    probe = build_parser()
    for action in probe._actions:  # a default of SUPPRESS leaves a flag not given out of the namespace
        action.default = argparse.SUPPRESS
    given = vars(probe.parse_known_args(argv)[0])
    return sorted(set(given) | set(PRESETS.get(given.get("preset"), {})))


def parse_train_args(argv=None):
    """Parse Trainer.py's flags; ``given_flags`` lists those the command line set (for a resume)."""
    cfg = parse_with_preset(build_train_parser(), argv)
    cfg.given_flags = given_flags(build_train_parser, argv)
    return cfg


# Flags that say where and how a run executes, not what it trains: a resumed run takes them from its own
# command line (and their defaults), every other flag from its checkpoint unless given.
RUNTIME_FLAGS = ("ckpt_path", "save_root", "device", "gpu", "num_workers", "test", "overwrite", "tensorboard",
                 "amp", "channels_last", "ddp_timeout", "given_flags")
# Flags a resume cannot change, whatever is given: the network and the optimiser's state (notes say so).
FIXED_ON_RESUME = (*MODEL_KEYS, "optim", "lr", "milestones")


def resume_recipe(cfg, stored):
    """Give ``cfg`` the recipe of the run a checkpoint stores (``stored``: its config dict): every flag the
    command line did not set takes the run's value, so ``--ckpt_path`` alone goes on with the run as it
    was. Returns ``--flag value (the run: x)`` for each flag given another value than the run's.

    ``cfg.given_flags`` (parse_train_args) names the flags given; a Namespace built otherwise counts
    those that differ from the defaults."""
    given = getattr(cfg, "given_flags", None)
    if given is None:
        defaults = vars(build_train_parser().parse_args([]))
        given = [key for key, value in vars(cfg).items() if value != defaults.get(key, value)]
    changed = []
    for key, value in stored.items():
        if key in RUNTIME_FLAGS or not hasattr(cfg, key):
            continue
        if key not in given:
            setattr(cfg, key, value)
        elif getattr(cfg, key) != value and key not in FIXED_ON_RESUME:
            changed.append(f"--{key} {_shown(getattr(cfg, key))} (the run: {_shown(value)})")
    # What the run's command line set stays set (a typed --num_epoch keeps beating a preset's --train_steps).
    cfg.given_flags = sorted(set(given) | set(stored.get("given_flags") or []))
    return changed


# Flags of the template networks that --arch pyramid has no use for, with their defaults.
TEMPLATE_ONLY = {"fix_leaky_relu": False, "output_mode": "template"}


def _was_given(cfg, key, default):
    """Whether ``key`` was set (on the command line or by the preset; without ``given_flags``: off its default)."""
    given = getattr(cfg, "given_flags", None)
    return key in given if given is not None else getattr(cfg, key) != default


def _source(cfg, keys):
    """'' or ' (set by --preset P)' when the preset gave all of ``keys`` their values."""
    preset = PRESETS.get(getattr(cfg, "preset", None) or "", {})
    by_preset = all(key in preset and preset[key] == getattr(cfg, key) for key in keys)
    return f" (set by --preset {cfg.preset})" if keys and by_preset else ""


def typed(cfg, key):
    """Whether ``key`` was typed on the command line (given, and not just the value its --preset sets)."""
    defaults = vars(build_train_parser().parse_args([]))
    return _was_given(cfg, key, defaults.get(key)) and not _source(cfg, [key])


def check_flags_fit(cfg):
    """Refuse flags the chosen --arch cannot use (naming the preset that set them), and name those that
    change nothing in the chosen configuration. Called once for a new run, before any data is read."""
    defaults = vars(build_train_parser().parse_args([]))
    if "none" in cfg.augment and len(cfg.augment) > 1:
        raise UserInputError(f"--augment {' '.join(cfg.augment)}: none means no augmentation, give it alone")
    if cfg.arch == "pyramid":
        keys = [key for key, default in TEMPLATE_ONLY.items() if getattr(cfg, key) != default]
        if keys:
            flags = ", ".join(f"--{key} {getattr(cfg, key)}" for key in keys)
            raise UserInputError(f"{flags}{_source(cfg, keys)}: only for --arch template (--arch pyramid has "
                                 "its own init and output head)")
    unused = {"lr_warmup": cfg.lr_schedule != "cosine", "milestones": cfg.lr_schedule == "cosine",
              "tfr": cfg.arch == "pyramid", "tfr_sde": cfg.arch == "pyramid", "tfr_d_step": cfg.arch == "pyramid"}
    why = {"lr_warmup": "only for --lr_schedule cosine", "milestones": "--lr_schedule cosine sets the lr",
           "tfr": "--arch pyramid decodes every frame from frame 0", "tfr_sde": "", "tfr_d_step": ""}
    for key, idle in unused.items():
        if idle and typed(cfg, key) and getattr(cfg, key) != defaults[key]:
            print(f"note: --{key} {_shown(getattr(cfg, key))} changes nothing here"
                  + (f": {why[key]}" if why[key] else " (teacher forcing: --arch pyramid has none)"))


def _shown(value):
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def take_model_flags(cfg, stored):
    """Copy the network flags (MODEL_KEYS) of a checkpoint's stored config into ``cfg``; a template
    checkpoint stores none, so ``cfg`` keeps its own. Flags given other values are named in a note."""
    ignored = overridden_flags(cfg, stored, MODEL_KEYS)
    if ignored:
        network = " ".join(f"--{key} {stored[key]}" for key in MODEL_KEYS[:5] if key in stored)
        print(f"note: {' '.join(ignored)} ignored: a checkpoint's network is fixed ({network})")
    for key in MODEL_KEYS:
        if key in stored:
            setattr(cfg, key, stored[key])
    return cfg


def overridden_flags(cfg, stored, keys):
    """``--flag value`` for each of ``keys`` given (on the command line or by a preset; see
    ``given_flags``, else: set to another value than its default) a value other than the one the
    ``stored`` config of a checkpoint replaces it with."""
    given = getattr(cfg, "given_flags", None)
    defaults = vars(build_train_parser().parse_args([]))
    return [f"--{key} {_shown(getattr(cfg, key))}" for key in keys
            if key in stored and getattr(cfg, key, None) != stored[key]
            and (key in given if given is not None else getattr(cfg, key, None) != defaults.get(key))]


# -- Tester.py and val_PSNR.py -----------------------------------------------------------------------
def build_test_parser():
    """Tester.py's flags: Trainer.py's (as in the course template) plus the Tester-only ones.

    The training flags are accepted so a Trainer.py command line works unchanged; they do nothing
    here. The network flags only matter for a course-template checkpoint (ours store them).
    """
    parser = argparse.ArgumentParser(
        description="Make the Kaggle submission (submission.csv) of a trained checkpoint. Output folder "
                    "(--save_root) defaults to the checkpoint's run folder; --DR defaults to the embedded "
                    "synthetic dataset. Training flags are accepted and ignored.")
    for add in (add_data_args, add_model_args, add_runtime_args, add_training_args, add_speed_args):
        add(parser)
    group = parser.add_argument_group("test")
    group.add_argument("--test_vi_len", type=_clip_len, default=VIDEO_LEN,
                       help="pose labels (= output frames) every test video must have")
    group.add_argument("--make_gif", action="store_true",
                       help="also write pred_seq<v>.gif (and .mp4 if imageio-ffmpeg is installed)")
    group.add_argument("--no_sanity", action="store_true",
                       help="skip reading submission.csv back to check its format and values")
    return parser


def parse_test_args(argv=None):
    """Parse Tester.py's flags (``--preset`` values apply as defaults, as in Trainer.py)."""
    cfg = parse_with_preset(build_test_parser(), argv)
    cfg.given_flags = given_flags(build_test_parser, argv)
    return cfg


def build_val_psnr_parser():
    parser = argparse.ArgumentParser(
        description="Per-frame PSNR/SSIM of validation rollouts of a trained checkpoint: a plot, a CSV and a "
                    "summary in --save_root (default: the checkpoint's run folder).")
    for add in (add_data_args, add_model_args, add_runtime_args, add_speed_args):
        add(parser)
    group = parser.add_argument_group("val_PSNR")
    group.add_argument("--mode", choices=VAL_PSNR_MODES, default="prior",
                       help="prior: z ~ N(0, I); zero: z = 0; best_of_k: best of --num_samples prior samples")
    group.add_argument("--num_samples", type=_positive_int, default=1, metavar="K",
                       help="rollouts sampled in one batch (prior: mean and band; best_of_k: K > 1 needed)")
    return parser


# -- score.py ----------------------------------------------------------------------------------------
def build_score_parser(description=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("submission", nargs="?", help="the prediction to score: a submission CSV or a GIF")
    parser.add_argument("--answer", help="answer CSV (same format) or ground-truth GIF; default: the test ground "
                                         "truth of --DR")
    parser.add_argument("--dedither", action="store_true",
                        help="compute every metric but the Kaggle PSNR on 3x3 box-blurred frames (palette GIFs)")
    add_dataset_args(parser)
    parser.add_argument("--frames_per_video", type=_positive_int, default=None,
                        help=f"rows per video of an --answer CSV (default {VIDEO_LEN}); the dataset's ground "
                             "truth has its own")
    parser.add_argument("--write_answer", metavar="CSV", help="write the ground truth of --DR as an answer CSV")
    parser.add_argument("--json", metavar="PATH", help="also write the scores as JSON")
    return parser


# -- make_dataset.py ---------------------------------------------------------------------------------
def _add_synthetic_command(sub):
    d = SYNTHETIC_DEFAULTS
    p = sub.add_parser("synthetic", help="generate the synthetic dance dataset")
    p.add_argument("--out", default=None, help="output folder (default: data/synthetic in the repo)")
    p.add_argument("--seed", type=_any_int, default=d["seed"])
    p.add_argument("--frame_size", type=_frame_size, default="{}x{}".format(*d["frame_size"]), metavar="HxW",
                   help="size of the written frames (default %(default)s; the real dataset's is 512x1024)")
    p.add_argument("--n_train_videos", type=_positive_int, default=d["n_train_videos"])
    p.add_argument("--train_video_len", type=_positive_int, default=d["train_video_len"])
    p.add_argument("--val_len", type=_positive_int, default=d["val_len"])
    p.add_argument("--n_test", type=_positive_int, default=d["n_test"])
    p.add_argument("--test_len", type=_positive_int, default=d["test_len"])
    p.add_argument("--dancers", choices=DANCER_MODES, default=d["dancers"],
                   help="one: the same dancer and studio in every video, like the course's (default); "
                        "per_video: a new dancer and studio in every video (a person never seen, from one frame)")
    p.add_argument("--force", action="store_true", help="regenerate even if the folder is up to date")


def _add_import_command(sub):
    p = sub.add_parser("import", help="build a dataset from person videos and their pose videos")
    p.add_argument("--pair", nargs=2, action="append", required=True, metavar=("PERSON", "POSE"),
                   help="a person video and its pose video: GIF, MP4 (needs imageio-ffmpeg) or a folder "
                        "of frame<N>.png; repeat for more videos, they are used in the given order")
    p.add_argument("--out", required=True, help="new output folder")
    p.add_argument("--val", default="0.1", help="validation frames: a count (630) or a fraction (0.1)")
    p.add_argument("--test", default="0.1", help="frames per test video: a count or a fraction")
    p.add_argument("--n_test", type=_positive_int, default=1, help="number of test videos")
    p.add_argument("--frame_size", type=_frame_size, default=None, metavar="HxW",
                   help="resize frames to HxW (default: keep the source size)")
    p.add_argument("--pose_offset", type=_non_negative_int, default=0,
                   help="pose frame k belongs to person frame k + pose_offset")
    p.add_argument("--fill", choices=FILL_MODES, default="repeat",
                   help="the first pose_offset person frames: label them with pose frame 0, or drop them")
    p.add_argument("--gif_frame_ms", type=_non_negative_int, default=GIF_FRAME_MS,
                   help="a GIF frame lasting k times this stands for k frames (0: no expansion)")
    p.add_argument("--template_gif", action="store_true",
                   help="GIFs from the course template's make_gif: drop the doubled first frame")
    p.add_argument("--dedither", action="store_true",
                   help="remove a palette GIF's dither from the person frames (not the pose labels) with a "
                        f"3x3 blur that skips neighbours more than {DITHER_EDGE} levels away, so edges stay "
                        "sharp; for GIF sources whose dither pattern changes from frame to frame (e.g. the "
                        "course's sample GIFs, lab4_gif); not for the course's PNG dataset, PNG folders or "
                        "videos (refused)")


def _add_check_command(sub):
    p = sub.add_parser("check", help="validate a dataset and build its frame caches")
    add_dataset_args(p, required=True)
    add_clip_args(p)


def build_make_dataset_parser(description=None):
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_synthetic_command(sub)
    _add_import_command(sub)
    _add_check_command(sub)
    return parser


# -- convert_checkpoint.py ---------------------------------------------------------------------------
def build_convert_parser(description=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("src", type=Path, help="a checkpoint you trust (it is unpickled: its code runs)")
    parser.add_argument("dst", type=Path, nargs="?", default=None,
                        help="the tensors-only copy (default: SRC's name with .safe.pt)")
    return parser


# -- experiments.py ----------------------------------------------------------------------------------
DEFAULT_EXPERIMENT_OUT = "experiments_out"
DEFAULT_EXPERIMENT_PRESET = "cpu_quick"


def build_experiments_parser(description=None):
    parser = argparse.ArgumentParser(
        description=description, allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other flags (e.g. --num_epoch 30 --DR LAB4_Dataset --device cuda) are Trainer.py flags shared "
               "by every run.")
    parser.add_argument("--out", default=DEFAULT_EXPERIMENT_OUT, help="experiment folder (default: %(default)s)")
    parser.add_argument("--preset", default=DEFAULT_EXPERIMENT_PRESET,
                        help="Trainer.py preset of every run, or 'none' (default: %(default)s)")
    parser.add_argument("--seed", type=_seed, default=0, help="seed of every run (default: %(default)s)")
    parser.add_argument("--setting", action="append", default=[], metavar='NAME="--flag value ..."',
                        help="add (or replace) a run: Trainer flags on top of the base flags; repeatable")
    parser.add_argument("--config", action="append", default=[], metavar="FILE.json",
                        help='settings/comparisons file: {"settings": {"name": "--flag value"}, '
                             '"comparisons": {"name": ["run", ...]}}; repeatable')
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=run_a,run_b",
                        help="add a comparison (overlaid plots) of named runs; repeatable")
    parser.add_argument("--no_defaults", action="store_true",
                        help="run only the settings given by --setting/--config, not the default set")
    parser.add_argument("--plot_only", action="store_true",
                        help="only redraw plots and results.md of --out from its files")
    parser.add_argument("--list", action="store_true", help="print the runs, their flags and state, and exit")
    return parser
