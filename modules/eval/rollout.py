"""The one rollout-and-score path: validation in training, Tester.py, val_PSNR.py and the ablations.

Videos are (B, T, 3, H, W) in [0, 1]; frame 0 of every rollout is the given first frame and is
never scored. Latents come from a torch.Generator seeded with ``seed``, so the same call gives the
same video wherever it is made.
"""
import torch

from ..errors import UserInputError
from ..runtime import autocast_context, torch_seed
from .metrics import (copy_baseline, moving_psnr, psnr_8bit, psnr_per_frame, silhouette_iou, ssim_per_frame,
                      vacated_psnr)
from .submission import scored_frames, to_pixels


@torch.inference_mode()
def generate(model, first_frames, poses, *, seed=0, z_mode="prior", amp="none"):
    """Roll out videos with the model's rollout, all of them as one batch.

    first_frames (B, 3, H, W), poses (B, T, 3, H, W) on the model's device. Returns (B, T, 3, H, W)
    float32 on the CPU. The model is left in eval mode.
    """
    model.eval()
    generator = torch.Generator(device=first_frames.device).manual_seed(torch_seed(seed))
    with autocast_context(first_frames.device, amp):
        videos = model.rollout(first_frames, poses, z_mode=z_mode, generator=generator)
    return videos.float().cpu()


def require_finite(videos, ckpt_path, model=None):
    """Refuse NaN/inf output before anything is written from it: to_pixels would turn it into a
    valid-looking all-zero submission and the PSNRs into ``nan``. Tester, val_PSNR and ``Trainer.py
    --test`` share this check; ``model`` lets the message name broken weights."""
    bad = int((~torch.isfinite(videos)).sum())
    if not bad:
        return videos
    broken = [name for name, value in model.state_dict().items()
              if value.is_floating_point() and not torch.isfinite(value).all()] if model is not None else []
    why = (f"{len(broken)} weight tensors of the checkpoint hold NaN/inf (e.g. {broken[0]}): it comes from a "
           "diverged run" if broken else "the weights are finite, so the rollout itself overflowed (try --amp none)")
    raise UserInputError(f"{ckpt_path}: the model's rollout has {bad} NaN/inf values of {videos.numel()}; {why}. "
                         "Nothing was written")


def score_videos(videos, truth):
    """Every metric of predicted videos against their ground truth, per video.

    videos, truth: (B, T, 3, H, W) in [0, 1] (CPU). Returns numpy arrays: ``psnr`` and ``ssim``
    (B, T-1) per frame 1..T-1; ``mse`` (B,) over frames 1..T-1; ``moving_psnr`` and ``vacated_psnr`` (B,)
    over the moving and the vacated pixels, ``silhouette_iou`` (B,) (modules.eval.metrics; the background
    is the median of all T true frames); ``kaggle_psnr`` (B,) 8-bit PSNR averaged over the Kaggle's
    scored frames (NaN for videos too short to have any).
    """
    pred, true = videos[:, 1:].float(), truth[:, 1:].float()
    kept = scored_frames(videos.shape[1])
    kaggle = (psnr_8bit(to_pixels(videos[:, kept]), to_pixels(truth[:, kept])).mean(axis=1) if kept
              else torch.full((videos.shape[0],), float("nan")).numpy())
    return {"psnr": psnr_per_frame(pred, true).numpy(), "ssim": ssim_per_frame(pred, true).numpy(),
            "mse": (pred - true).pow(2).mean(dim=(1, 2, 3, 4)).numpy(),
            "moving_psnr": moving_psnr(videos, truth).numpy(), "vacated_psnr": vacated_psnr(videos, truth).numpy(),
            "silhouette_iou": silhouette_iou(videos, truth).numpy(), "kaggle_psnr": kaggle, "kaggle_frames": kept}


def rollout_and_score(model, frames, poses, *, num_samples=1, seed=0, z_mode="prior", amp="none", source=None):
    """Roll out one video ``num_samples`` times (one batched rollout) and score every sample; with
    ``source`` (the checkpoint's name), :func:`require_finite` checks the rollout before it is scored.

    frames, poses: (T, 3, H, W) on the model's device. Returns :func:`score_videos`' arrays over the
    samples (first axis K), the ``videos`` (K, T, 3, H, W) on the CPU, and the ``copy`` baseline
    (copying frame 0: :func:`modules.eval.metrics.copy_baseline`).
    """
    first = frames[:1].expand(num_samples, -1, -1, -1)
    videos = generate(model, first, poses.unsqueeze(0).expand(num_samples, -1, -1, -1, -1), seed=seed,
                      z_mode=z_mode, amp=amp)
    if source is not None:
        require_finite(videos, source, model)
    truth = frames.float().cpu().unsqueeze(0)
    return {**score_videos(videos, truth.expand_as(videos)), "videos": videos, "copy": copy_baseline(truth[0])}
