"""Train the pose-conditioned CVAE of NYCU DLP Lab 4.

    python Trainer.py                                   # embedded synthetic data, template settings
    python Trainer.py --preset cpu_quick                # a CPU quick start that learns in minutes
    python Trainer.py --preset cpu_quick --tensorboard  # + TensorBoard logs (pip install tensorboard)
    python Trainer.py --DR LAB4_Dataset --save_root runs/real --device cuda
    python Trainer.py --ckpt_path runs/x/checkpoints/last.pt --num_epoch 100   # resume in runs/x (its folder)
    python Trainer.py --test --ckpt_path runs/x/checkpoints/best.pt
"""
from modules.config import parse_train_args
from modules.errors import exit_on_user_error
from modules.runtime import configure
from modules.train.loop import fit, validate_only


@exit_on_user_error
def main(argv=None):
    cfg = parse_train_args(argv)
    settings = configure(cfg.device, cfg.channels_last, cfg.amp)
    cfg.channels_last, cfg.amp = settings["channels_last"], settings["amp"]
    if cfg.test:
        validate_only(cfg)
    else:
        fit(cfg)


if __name__ == "__main__":
    main()
