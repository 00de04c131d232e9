"""--adv_weight: a patch critic of (frame, pose) pairs, trained beside the CVAE with a hinge loss.

Why: under MSE the best guess for a limb whose place is uncertain is the average of its places, a blur.
A critic that tells generated frames from real ones, each beside its pose image, penalises that blur
where the pose says a limb is (pix2pix's PatchGAN; SAVP and vid2vid add such a loss to a VAE's).
Each output logit judges an 18x18-pixel patch (at 32x64 frames, about a limb and its surroundings),
so the critic looks at outlines and texture, not at the layout, which the reconstruction loss fixes.
"""
import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm

CRITIC_LR, CRITIC_BETAS = 4e-4, (0.5, 0.999)  # pix2pix's betas; twice its lr (the TTUR practice)


class PatchCritic(nn.Module):
    """(N, 3, H, W) frames and their (N, 3, H, W) pose images -> (N, 1, H/4, W/4) logits (real > 0).
    Spectral norm on every convolution keeps the critic Lipschitz, so it needs no gradient penalty."""

    def __init__(self, width=32):
        super().__init__()
        layers, channels = [], 6
        for out in (width, 2 * width):
            layers += [spectral_norm(nn.Conv2d(channels, out, 4, 2, padding=1)), nn.LeakyReLU(0.2)]
            channels = out
        layers.append(spectral_norm(nn.Conv2d(channels, 1, 3, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, frames, poses):
        return self.net(torch.cat([frames, poses], dim=1))


def hinge_critic_loss(real_logits, fake_logits):
    """The critic's hinge loss: mean(relu(1 - real)) + mean(relu(1 + fake))."""
    return torch.relu(1 - real_logits).mean() + torch.relu(1 + fake_logits).mean()


def hinge_generator_loss(fake_logits):
    """The generator's side of the hinge game: -mean(fake logits)."""
    return -fake_logits.mean()


def _as_images(clip):
    """(B, T, C, H, W) -> (B*T, C, H, W)."""
    return clip.reshape(-1, *clip.shape[2:])


class Adversary:
    """The critic, its optimiser and the two losses of one training step.

    ``generator_term(pred, poses)``: ``weight * sum_t hinge_generator_loss(frame t)``, summed over the
    predicted frames as the reconstruction loss is; the critic's weights get no gradient from it.
    ``step(real, pred, poses)``: one critic update on the clip's real and (detached) predicted frames.
    """

    def __init__(self, weight, device, width=32):
        self.weight = weight
        self.critic = PatchCritic(width).to(device)
        self.optimizer = torch.optim.Adam(self.critic.parameters(), lr=CRITIC_LR, betas=CRITIC_BETAS)

    def generator_term(self, pred, poses):
        self.critic.requires_grad_(False)
        try:
            logits = self.critic(_as_images(pred), _as_images(poses))
        finally:
            self.critic.requires_grad_(True)
        return self.weight * pred.shape[1] * hinge_generator_loss(logits.float())

    def step(self, real, pred, poses):
        self.optimizer.zero_grad(set_to_none=True)
        poses = _as_images(poses)
        loss = hinge_critic_loss(self.critic(_as_images(real), poses).float(),
                                 self.critic(_as_images(pred.detach()), poses).float())
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def state_dict(self):
        return {"critic": self.critic.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        self.critic.load_state_dict(state["critic"])
        self.optimizer.load_state_dict(state["optimizer"])
