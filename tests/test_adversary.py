"""--adv_weight: the patch critic's shapes, the hinge losses, who gets which gradient, and resume."""
import pytest
import torch

import Trainer
from modules.adversary import Adversary, PatchCritic, hinge_critic_loss, hinge_generator_loss
from modules.checkpoint import load_checkpoint
from modules.train.runlog import read_metrics
from test_resume import SHRINK, interrupt_at_epoch
from test_trainer import no_curves, without_time  # noqa: F401 (a fixture)


def test_the_critic_gives_one_logit_per_patch():
    logits = PatchCritic(width=8)(torch.rand(5, 3, 32, 64), torch.rand(5, 3, 32, 64))
    assert logits.shape == (5, 1, 8, 16)


def test_the_hinge_losses_follow_their_formulas():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 0.0, 0.25])
    # critic: mean(relu(1 - real)) + mean(relu(1 + fake))
    assert hinge_critic_loss(real, fake).item() == pytest.approx((0 + 0.5 + 2) / 3 + (0 + 1 + 1.25) / 3)
    assert hinge_generator_loss(fake).item() == pytest.approx(-(-3.0 + 0.0 + 0.25) / 3)


def test_the_generator_term_is_weighted_per_frame_and_leaves_the_critic_without_gradient():
    torch.manual_seed(0)
    adversary = Adversary(0.5, torch.device("cpu"), width=8)
    adversary.critic.eval()  # no power iteration of the spectral norm between the two forwards
    pred = torch.rand(2, 3, 3, 32, 64, requires_grad=True)
    poses = torch.rand(2, 3, 3, 32, 64)
    term = adversary.generator_term(pred, poses)
    logits = adversary.critic(pred.detach().flatten(0, 1), poses.flatten(0, 1))
    assert term.item() == pytest.approx(0.5 * 3 * -logits.mean().item(), rel=1e-5)
    term.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in adversary.critic.parameters())
    assert all(p.requires_grad for p in adversary.critic.parameters())  # switched back on for its own step


def test_critic_steps_learn_to_tell_real_from_generated_frames():
    torch.manual_seed(0)
    adversary = Adversary(1.0, torch.device("cpu"), width=8)
    real = torch.zeros(2, 2, 3, 32, 64)
    real[..., 8:24, 20:30] = 1.0  # a sharp block
    fake = torch.full_like(real, 0.15)  # its blur
    poses = torch.rand_like(real)
    losses = [adversary.step(real, fake, poses).item() for _ in range(30)]
    assert losses[-1] < losses[0] - 0.5


def test_an_interrupted_adversarial_run_resumes_exactly_with_its_critic(tiny_dataset, tmp_path, monkeypatch,
                                                                         no_curves, capsys):
    start = ["--DR", str(tiny_dataset), "--device", "cpu", *SHRINK, "--adv_weight", "0.05"]
    Trainer.main([*start, "--save_root", str(tmp_path / "straight")])
    with monkeypatch.context() as patch:
        interrupt_at_epoch(patch, 1)
        with pytest.raises(SystemExit):
            Trainer.main([*start, "--save_root", str(tmp_path / "split")])
    interrupted = tmp_path / "split" / "checkpoints" / "interrupted.pt"
    assert set(load_checkpoint(interrupted)["adversary"]) == {"critic", "optimizer"}
    Trainer.main(["--ckpt_path", str(interrupted), "--device", "cpu"])
    assert (without_time(read_metrics(tmp_path / "split" / "metrics.csv"))
            == without_time(read_metrics(tmp_path / "straight" / "metrics.csv")))
