"""The course template's frame-by-frame training step and rollout, kept as a reference.

Tests check that VAE_Model's batched training pass gives the same loss and gradients; the
benchmark measures how much faster it is. Not used for training.
"""
import torch
import torch.nn.functional as F

from modules.objective import kl_per_frame, soft_clamp_logvar


def template_clip_loss(model, frames, poses, beta, teacher_forcing, eps, kl_reduction="sum"):
    """Loss of a (B, T, 3, H, W) clip computed one frame at a time as the template does: every
    step encodes its target (posterior) and its previous frame separately. ``eps`` is the
    (B, T-1, N, H, W) reparameterisation noise. Template output mode only."""
    output = frames[:, 0]
    total = 0.0
    for t in range(1, frames.shape[1]):
        frame_feature = model.frame_transformation(frames[:, t])
        label_feature = model.label_transformation(poses[:, t])
        mu, logvar = model.Gaussian_Predictor(frame_feature, label_feature)
        logvar = soft_clamp_logvar(logvar)
        z = mu + torch.exp(0.5 * logvar) * eps[:, t - 1]
        prev = frames[:, t - 1] if teacher_forcing else output
        output = torch.sigmoid(model.Generator(model.Decoder_Fusion(model.frame_transformation(prev),
                                                                    label_feature, z)))
        kl = kl_per_frame(mu.unsqueeze(1), logvar.unsqueeze(1), kl_reduction)[0]
        total = total + F.mse_loss(output, frames[:, t]) + beta * kl
    return total


@torch.no_grad()
def template_rollout(model, first_frame, poses):
    """The template's rollout: one video, label and posterior computed at every step (the
    posterior is then discarded), z ~ N(0, I). (B, 3, H, W), (B, T, 3, H, W) -> (B, T, 3, H, W)."""
    frames = [first_frame]
    for t in range(1, poses.shape[1]):
        frame_feature = model.frame_transformation(frames[-1])
        label_feature = model.label_transformation(poses[:, t])
        mu, logvar = model.Gaussian_Predictor(frame_feature, label_feature)
        z = torch.randn_like(mu)
        frames.append(torch.sigmoid(model.Generator(model.Decoder_Fusion(frame_feature, label_feature, z))))
    return torch.stack(frames, dim=1)
