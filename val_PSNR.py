"""Per-frame PSNR of the validation rollout of a trained checkpoint (the report's figure).

    python val_PSNR.py --ckpt_path runs/x/checkpoints/best.pt                      # prior z, one sample
    python val_PSNR.py --ckpt_path best.pt --DR LAB4_Dataset --num_samples 10      # mean and band
    python val_PSNR.py --ckpt_path best.pt --mode best_of_k --num_samples 10
    python val_PSNR.py --ckpt_path best.pt --mode zero

Writes val_psnr_<label>.png, .csv (per frame) and .json (average PSNR, Kaggle-style PSNR, SSIM, moving-pixel PSNR, copy-frame-0 baselines) to
--save_root (default: the checkpoint's run folder). See docs/testing.md.
"""
from modules.config import build_val_psnr_parser
from modules.errors import exit_on_user_error
from modules.eval.val_psnr import val_psnr_report
from modules.runtime import configure


@exit_on_user_error
def main(argv=None):
    cfg = build_val_psnr_parser().parse_args(argv)
    settings = configure(cfg.device, cfg.channels_last, cfg.amp)
    cfg.channels_last, cfg.amp = settings["channels_last"], settings["amp"]
    val_psnr_report(cfg)


if __name__ == "__main__":
    main()
