"""DistributedDataParallel training: 2 CPU processes with gloo on loopback, a tiny synthetic dataset."""
import os
import random
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from unittest import mock

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import TensorDataset

import modules.train.loop
import modules.vae
from conftest import TINY_WIDTH_FLAGS
from modules.checkpoint import load_checkpoint
from modules.config import parse_train_args
from modules.errors import UserInputError
from modules.objective import reparameterize
from modules.train import distributed
from modules.train.loop import NonFiniteLossError, fit, train_one_epoch
from modules.train.runlog import read_metrics
from modules.train.setup import build_model, build_optimizer, train_loader_for_epoch
from test_tensorboard import events

REPO = Path(__file__).resolve().parent.parent
TINY_FLAGS = [*TINY_WIDTH_FLAGS, "--device", "cpu",
              "--num_workers", "0", "--frame_H", "16", "--frame_W", "32", "--train_vi_len", "4",
              "--val_vi_len", "4", "--batch_size", "1", "--per_save", "1", "--milestones"]
WORLD = 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_env():
    """Keep gloo on the loopback interface and each process on one thread (the CPUs are shared)."""
    env = {"MASTER_ADDR": "127.0.0.1", "OMP_NUM_THREADS": "1"}
    if sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"
    return env


@pytest.fixture(scope="module")
def tiny_dataset(make_tiny_dataset):
    # 8 training frames = 2 clips of 4: one clip (one step) per rank per epoch.
    return make_tiny_dataset(frame_size=(16, 32), n_train_videos=1, train_video_len=8, val_len=4, test_len=2)


def test_torchrun_two_ranks_write_one_set_of_outputs_that_resume_in_one_process(tiny_dataset, tmp_path):
    run = tmp_path / "ddp"
    # With tensorboard installed (CI), the run logs to it too: rank 0 alone writes an event file.
    flags = ["--DR", str(tiny_dataset), *TINY_FLAGS, *(["--tensorboard"] if find_spec("tensorboard") else [])]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(WORLD),
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           str(REPO / "Trainer.py"), *flags, "--save_root", str(run), "--num_epoch", "2"]
    done = subprocess.run(cmd, cwd=REPO, env={**os.environ, **loopback_env()}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr  # torchrun exits 0 only when every rank did
    # Only rank 0 prints the epoch lines and writes: one metrics row per epoch, one set of checkpoints.
    assert done.stdout.count("epoch 1/2:") == 1 and done.stdout.count("epoch 2/2:") == 1, done.stdout
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == [0, 1]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "epoch_001.pt",
                                                                       "epoch_002.pt", "last.pt"]
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == 2
    assert not [key for key in ckpt["model"] if key.startswith("module.")]
    if find_spec("tensorboard"):
        assert len(list((run / "tensorboard").iterdir())) == 1

    resumed = fit(parse_train_args([*flags, "--save_root", str(run), "--num_epoch", "3",
                                    "--ckpt_path", str(run / "checkpoints" / "last.pt")]))
    assert [r["epoch"] for r in read_metrics(resumed / "metrics.csv")] == [0, 1, 2]
    if find_spec("tensorboard"):
        assert [e.step for e in events(run).Scalars("psnr/val_psnr")] == [0, 1, 2]


# -- one DDP step equals one single-process step on the concatenated batch ------------------------
def step_config(batch_size):
    # fp32: a bf16 step (the --amp auto default on AMX / AVX512-BF16 machines) rounds differently for
    # a batch of 1 and of 2, and this test compares them to float32 rounding.
    return parse_train_args([*TINY_FLAGS, "--batch_size", str(batch_size), "--amp", "none"])


@contextmanager
def same_noise_for_every_clip():
    """The reparameterisation noise of a clip, independent of its batch and rank: every clip gets
    the same fixed eps, so the split and the concatenated batch draw identical latents."""
    def fixed_eps(mu, logvar, eps=None):
        noise = torch.randn(mu.shape[1:], generator=torch.Generator().manual_seed(7))
        return reparameterize(mu, logvar, noise.expand_as(mu))

    with mock.patch.object(modules.vae, "reparameterize", fixed_eps):
        yield


def step_clips():
    """Two clips with different frames and the SAME poses (see the test's docstring)."""
    generator = torch.Generator().manual_seed(3)
    frames = torch.rand(2, 4, 3, 16, 32, generator=generator)
    poses = torch.rand(1, 4, 3, 16, 32, generator=generator).expand(2, -1, -1, -1, -1).clone()
    return frames, poses


def one_training_step(batch_size):
    """One epoch over the two clips = one optimiser step per process, through the real loop."""
    cfg = step_config(batch_size)
    torch.manual_seed(0)
    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg)
    loader = train_loader_for_epoch(TensorDataset(*step_clips()), cfg, 0, torch.Generator().manual_seed(0))
    assert len(loader) == 1
    with same_noise_for_every_clip():
        train_one_epoch(distributed.wrap(model, torch.device("cpu")), loader, optimizer, beta=0.5, tfr=0.0,
                        cfg=cfg, device=torch.device("cpu"), rng=random.Random(0))
    return model


def run_ranks(worker, *args, deadline_s=120):
    """Run ``worker(rank, port, *args)`` in WORLD processes as torchrun would set them up; a hang
    (a rank left waiting in a collective) fails the test instead of blocking it."""
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"  # fork: no second torch import
    context = mp.start_processes(_as_rank, args=(worker, free_port(), *args), nprocs=WORLD, join=False,
                                 start_method=method)
    deadline = time.monotonic() + deadline_s
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"the ranks did not finish within {deadline_s} s")


def _as_rank(rank, worker, port, *args):
    os.environ.update(loopback_env(), MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    with distributed.process_group("cpu"):
        worker(rank, *args)


def _step_and_save(rank, out_dir):
    torch.save(one_training_step(batch_size=1).state_dict(), Path(out_dir) / f"rank{rank}.pt")


def test_one_ddp_step_equals_one_step_on_the_concatenated_batch(tmp_path):
    """2 ranks x batch 1 under DDP == 1 process x batch 2, parameter for parameter after one Adam
    step (gradient clipping on, free-running rollout, the real train_one_epoch and sampler).

    Why it is exact: DDP averages the ranks' gradients, and the loss is a batch mean (MSE mean,
    KL summed / batch size), so the average of two batch-1 gradients is the batch-2 gradient --
    except for two things that depend on how the batch is split:
    - the Label_Encoder's BatchNorm normalises with its own batch's statistics. The two clips
      share their poses (the frames differ), so a rank's batch of one has exactly the statistics
      of the concatenated batch, and the real train-mode BatchNorm runs. (SyncBatchNorm would
      make it exact for any poses, but it does not run on the CPU, and the loop uses plain BN.)
    - the reparameterisation noise is drawn per batch; it is fixed per clip here.
    Not compared: the running variance (its unbiased n/(n-1) correction sees half the pixels on
    a rank; the running mean is compared), and the bias of the conv right before that BatchNorm:
    BN cancels it, so its true gradient is 0 and Adam's first step, lr * g / (|g| + eps), turns
    each run's round-off into an update of up to lr -- it is only checked to stay within lr.
    """
    run_ranks(_step_and_save, str(tmp_path))
    reference = one_training_step(batch_size=WORLD).state_dict()
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    torch.manual_seed(0)
    untrained = build_model(step_config(1)).state_dict()
    lr = step_config(1).lr
    for name, expected in reference.items():
        for rank, state in enumerate(ranks):
            if name == "label_transformation.1.bias":
                assert (state[name] - untrained[name]).abs().max() <= lr * (1 + 1e-4)
            elif not name.endswith("running_var"):
                torch.testing.assert_close(state[name], expected, rtol=1e-5, atol=1e-6, msg=f"rank {rank}: {name}")
    moved = (reference["Generator.7.bias"] - untrained["Generator.7.bias"]).abs().max()
    assert moved == pytest.approx(lr, rel=1e-3), "one Adam step moves a weight with a clear gradient by lr"


def _nan_on_rank_one(rank, out_dir):
    real_loss = modules.train.loop.cvae_loss

    def loss(*args):
        terms = real_loss(*args)
        if rank == 1:
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    with mock.patch.object(modules.train.loop, "cvae_loss", loss):
        try:
            one_training_step(batch_size=1)
        except NonFiniteLossError:
            (Path(out_dir) / f"stopped{rank}").touch()


def test_a_nan_on_one_rank_stops_every_rank_before_any_steps(tmp_path):
    run_ranks(_nan_on_rank_one, str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stopped0", "stopped1"]


# -- single process --------------------------------------------------------------------------------
def test_gpu_flag_without_torchrun_names_the_command(monkeypatch):
    for name in distributed.TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "argv", ["/x/Trainer.py", "--gpu", "4", "--DR", "my data"])
    with pytest.raises(UserInputError, match="torchrun --standalone --nproc_per_node 4 Trainer.py --gpu 4"):
        distributed.check_launch(4)
    assert distributed.torchrun_command(4) == ("torchrun --standalone --nproc_per_node 4 Trainer.py "
                                               "--gpu 4 --DR 'my data'")
    distributed.check_launch(1)


def test_helpers_are_identities_in_a_single_process():
    assert not distributed.is_distributed() and distributed.is_main_process() and distributed.world_size() == 1
    assert distributed.all_ranks(True) and not distributed.all_ranks(False)
    assert torch.equal(distributed.mean_over_ranks(torch.tensor([1.0, 2.0])), torch.tensor([1.0, 2.0]))
    assert distributed.broadcast_from_main("x") == "x"
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, torch.device("cpu")) is model
    with distributed.process_group("cpu") as device:
        assert device is None


def _frozen_peer(rank, port, out_dir):
    os.environ.update(loopback_env(), MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD),
                      LOCAL_RANK=str(rank))
    try:
        with distributed.process_group("cpu", timeout_s=2):
            if rank == 1:
                time.sleep(8)  # frozen (kill -STOP): never enters the collective
                os._exit(0)
            distributed.all_ranks(True)
    except UserInputError as err:
        (Path(out_dir) / "message").write_text(str(err))


def test_a_frozen_peer_ends_the_run_after_the_timeout_with_one_line(tmp_path):
    started = time.monotonic()
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    context = mp.start_processes(_frozen_peer, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=False,
                                 start_method=method)
    context.processes[0].join(timeout=60)
    waited = time.monotonic() - started
    for process in context.processes:
        process.kill()
    message = (tmp_path / "message").read_text()
    assert message.startswith("rank 0: another training process stopped answering") and "--ddp_timeout 2 s" in message
    assert waited < 30


def test_peer_failures_are_told_from_bugs():
    assert distributed.is_peer_failure(RuntimeError("[../gloo/transport/tcp/pair.cc:537] Read error: Connection "
                                                    "reset by peer"))
    assert not distributed.is_peer_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def test_a_process_group_that_cannot_be_joined_is_one_line(monkeypatch):
    def rendezvous_timed_out(**_):
        raise RuntimeError("Timed out after 31 seconds waiting for clients. 1/2 clients joined.\ntraceback...")

    for name, value in (("RANK", "1"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "1")):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(distributed.dist, "init_process_group", rendezvous_timed_out)
    with pytest.raises(UserInputError) as caught:
        with distributed.process_group("cpu", timeout_s=31):
            pass
    assert str(caught.value) == ("rank 1: could not join torchrun's process group (waited at most --ddp_timeout 31 s): "
                                 "Timed out after 31 seconds waiting for clients. 1/2 clients joined. Check that "
                                 "every rank started and can reach MASTER_ADDR:MASTER_PORT")
