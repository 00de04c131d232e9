"""The one definition of every flag and its default (the course template's names and defaults).

Trainer.py, Tester.py and val_PSNR.py build their parsers from here; the parsed config is
stored in every checkpoint as a plain dict, so the evaluation scripts rebuild the model from
``--ckpt_path`` alone.
"""
import argparse

from .schedules import KL_ANNEAL_TYPES, TF_FLIP_MODES
from .vae import INIT_MODES, OUTPUT_MODES

# Flags that define the network: the evaluation scripts take them from the checkpoint.
MODEL_KEYS = ("F_dim", "L_dim", "N_dim", "D_out_dim", "fix_leaky_relu", "output_mode", "init")

# Documented presets: explicit flag values applied as defaults (flags given on the command line
# still win). The template's own defaults are untouched.
PRESETS = {
    # Learns visibly on 2 CPU cores in about 10 minutes (README, "CPU quick start"): 16x cheaper
    # widths; the anchored output (starts as a copy of the first frame, only the dancer is redrawn);
    # scaled init; free-running training (no teacher forcing: rollouts are what is scored); KL
    # averaged per latent number at beta = 1; a constant learning rate.
    "cpu_quick": {
        "F_dim": 32, "L_dim": 8, "N_dim": 4, "D_out_dim": 48,
        "fix_leaky_relu": True, "output_mode": "anchored", "init": "scaled",
        "kl_reduction": "mean", "kl_anneal_type": "None",
        "batch_size": 2, "train_vi_len": 16, "lr": 2e-3, "milestones": [],
        "num_epoch": 4, "partial": 1.0, "num_workers": 0, "per_save": 2,
        "tfr": 0.0,
    },
}


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _fraction(text):
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _non_negative(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def add_data_args(parser):
    group = parser.add_argument_group("data")
    group.add_argument("--DR", type=str, default=None,
                       help="dataset root in the LAB4 layout (default: the embedded synthetic dataset, "
                            "generated on first use)")
    group.add_argument("--save_root", type=str, default=None,
                       help="output folder (Trainer.py default: runs/<date-time>; Tester.py and val_PSNR.py: "
                            "the checkpoint's run folder)")
    group.add_argument("--num_workers", type=int, default=4)
    group.add_argument("--frame_H", type=_positive_int, default=32)
    group.add_argument("--frame_W", type=_positive_int, default=64)
    group.add_argument("--val_vi_len", type=_positive_int, default=630)
    group.add_argument("--seed", type=int, default=0, help="seeds data order, latents and coins")


def add_model_args(parser):
    group = parser.add_argument_group("model")
    group.add_argument("--F_dim", type=_positive_int, default=128)
    group.add_argument("--L_dim", type=_positive_int, default=32)
    group.add_argument("--N_dim", type=_positive_int, default=12)
    group.add_argument("--D_out_dim", type=_positive_int, default=192)
    group.add_argument("--fix_leaky_relu", action="store_true",
                       help="use LeakyReLU(0.01) where the template's nn.LeakyReLU(True) is the identity")
    group.add_argument("--output_mode", choices=OUTPUT_MODES, default="template",
                       help="template: sigmoid(Generator); residual / anchored: sigmoid(logit(previous / first "
                            "frame) + Generator), starting as a copy of that frame")
    group.add_argument("--init", choices=INIT_MODES, default="default",
                       help="default: PyTorch's init; scaled: 1/fan_in variance, residual branches zeroed")


def add_runtime_args(parser):
    group = parser.add_argument_group("runtime")
    group.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                       help="falls back to cpu with a warning when CUDA is not available")
    group.add_argument("--gpu", type=int, default=1, help="number of GPUs (>1: launch with torchrun)")
    group.add_argument("--ckpt_path", type=str, default=None)


def add_training_args(parser):
    group = parser.add_argument_group("training")
    group.add_argument("--batch_size", type=_positive_int, default=2)
    group.add_argument("--lr", type=float, default=0.001)
    group.add_argument("--optim", choices=("Adam", "AdamW"), default="Adam")
    group.add_argument("--milestones", type=int, nargs="*", default=[2, 5],
                       help="MultiStepLR epochs (template: 2 5, which leaves lr at 1e-5 from epoch 5 "
                            "on and is the usual reason runs stall); give none for a constant lr")
    group.add_argument("--gamma", type=float, default=0.1, help="MultiStepLR factor")
    group.add_argument("--clip_grad", type=_non_negative, default=1.0, help="max grad norm; 0 = off")
    group.add_argument("--test", action="store_true", help="only validate the --ckpt_path model")
    group.add_argument("--store_visualization", action="store_true",
                       help="also save a GIF of the validation rollout every epoch (default: best and last)")
    group.add_argument("--num_epoch", type=_positive_int, default=70)
    group.add_argument("--per_save", type=_positive_int, default=3)
    group.add_argument("--partial", type=_fraction, default=1.0)
    group.add_argument("--train_vi_len", type=_positive_int, default=16)
    group.add_argument("--random_offset", action="store_true",
                       help="shift the training clips by a random offset every epoch")
    group.add_argument("--tfr", type=float, default=1.0)
    group.add_argument("--tfr_sde", type=int, default=10)
    group.add_argument("--tfr_d_step", type=float, default=0.1)
    group.add_argument("--tf_flip", choices=TF_FLIP_MODES, default="epoch",
                       help="how often the teacher-forcing coin is flipped")
    group.add_argument("--fast_train", action="store_true")
    group.add_argument("--fast_partial", type=_fraction, default=0.4)
    group.add_argument("--fast_train_epoch", type=int, default=5)
    group.add_argument("--kl_anneal_type", choices=KL_ANNEAL_TYPES, default="Cyclical")
    group.add_argument("--kl_anneal_cycle", type=_positive_int, default=10)
    group.add_argument("--kl_anneal_ratio", type=float, default=1.0)
    group.add_argument("--kl_reduction", choices=("sum", "mean"), default="sum",
                       help="sum: template KL (summed over latents / batch); mean: per latent number")
    group.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="apply a documented set of flag values (explicit flags still win)")


def add_speed_args(parser):
    group = parser.add_argument_group("speed")
    group.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none",
                       help="autocast dtype (KL and logvar math stay fp32)")
    group.add_argument("--channels_last", action=argparse.BooleanOptionalAction, default=None,
                       help="NHWC memory format (default: on for the CPU, off for CUDA)")
    group.add_argument("--compile", action="store_true", help="torch.compile the networks")
    group.add_argument("--cudnn_benchmark", action=argparse.BooleanOptionalAction, default=True,
                       help="let cuDNN pick the fastest conv algorithms for the fixed shapes (CUDA only)")


def build_train_parser():
    parser = argparse.ArgumentParser(description="Train the pose-conditioned CVAE (NYCU DLP Lab 4).")
    for add in (add_data_args, add_model_args, add_runtime_args, add_training_args, add_speed_args):
        add(parser)
    return parser


def parse_with_preset(parser, argv=None):
    """Parse ``argv``, applying the ``--preset`` values as defaults (flags given still win)."""
    args, _ = parser.parse_known_args(argv)
    if args.preset:
        parser.set_defaults(**PRESETS[args.preset])
    return parser.parse_args(argv)


def parse_train_args(argv=None):
    """Parse Trainer.py's flags."""
    return parse_with_preset(build_train_parser(), argv)


def model_kwargs(config):
    """The VAE_Model constructor arguments held in a config (a Namespace or a dict)."""
    config = vars(config) if not isinstance(config, dict) else config
    defaults = vars(build_train_parser().parse_args([]))
    return {key: config.get(key, defaults[key]) for key in MODEL_KEYS}
