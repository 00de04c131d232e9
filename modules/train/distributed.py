"""Several processes training one model: torchrun + DistributedDataParallel.

``torchrun`` starts one process per GPU and tells each who it is through its environment
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). Without those variables everything here
is a no-op for a single process: rank 0 of a world of 1, so the training loop reads the same
either way. Backend: NCCL with one GPU per process (cuda:LOCAL_RANK) when CUDA is used, gloo on
the CPU.
"""
import os
import shlex
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..config import DDP_TIMEOUT_S
from ..errors import UserInputError
from ..runtime import use_cuda

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launched_by_torchrun():
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def is_distributed():
    return dist.is_available() and dist.is_initialized()


def rank():
    return dist.get_rank() if is_distributed() else 0


def world_size():
    return dist.get_world_size() if is_distributed() else 1


def is_main_process():
    """True on rank 0, the one process that prints and writes files (and in a single process)."""
    return rank() == 0


def torchrun_command(nproc, argv=None):
    """The single-node torchrun command that runs this script with ``nproc`` processes."""
    argv = sys.argv if argv is None else argv
    script = Path(argv[0]).name if argv else "Trainer.py"
    return shlex.join(["torchrun", "--standalone", "--nproc_per_node", str(nproc), script, *argv[1:]])


def check_launch(gpus):
    """``--gpu N`` with N > 1 needs torchrun: one process per GPU."""
    if gpus > 1 and not launched_by_torchrun():
        raise UserInputError(f"--gpu {gpus} trains with one process per GPU, started by torchrun:\n"
                             f"  {torchrun_command(gpus)}\n(see docs/distributed.md)")


def _process_device(requested):
    """cuda:LOCAL_RANK when CUDA is asked for and present, else the CPU."""
    local_rank = int(os.environ["LOCAL_RANK"])
    if not use_cuda(requested):
        return torch.device("cpu")
    if local_rank >= torch.cuda.device_count():
        raise UserInputError(f"LOCAL_RANK {local_rank} but this node has {torch.cuda.device_count()} GPU(s): "
                             f"lower torchrun's --nproc_per_node")
    return torch.device("cuda", local_rank)


# What the backends' errors say when a peer froze (timeout) or died (closed connection).
PEER_FAILURES = ("timed out", "timeout", "connection reset", "connection closed", "broken pipe", "gloo", "nccl")


@contextmanager
def process_group(requested_device, timeout_s=DDP_TIMEOUT_S):
    """Join torchrun's process group for the duration of the block (nothing outside torchrun, or
    when a group is already up). Yields the device of this process, or None in a single process.

    A collective that waits more than ``timeout_s`` for a frozen peer, or whose peer died, ends the
    run with one line saying so (a UserInputError) instead of a backend traceback."""
    if not launched_by_torchrun() or is_distributed():
        yield device_of_process() if is_distributed() else None
        return
    device = _process_device(requested_device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo",
                                device_id=device if device.type == "cuda" else None,
                                timeout=timedelta(seconds=timeout_s))
    except (RuntimeError, ValueError) as err:  # a rendezvous that timed out, a peer that never came
        raise UserInputError(f"rank {os.environ.get('RANK', '?')}: could not join torchrun's process group "
                             f"(waited at most --ddp_timeout {timeout_s:g} s): {_first_line(err).rstrip('.')}. "
                             f"Check that every rank started and can reach MASTER_ADDR:MASTER_PORT") from None
    try:
        yield device
    except RuntimeError as err:
        if not is_peer_failure(err):
            raise
        raise UserInputError(f"rank {rank()}: another training process stopped answering (frozen or killed; "
                             f"waited at most --ddp_timeout {timeout_s:g} s): {_first_line(err)}. The checkpoints "
                             f"of the finished epochs are kept: resume from the run's checkpoints/last.pt") from None
    finally:
        dist.destroy_process_group()


def is_peer_failure(err):
    """Whether ``err`` is a collective that failed because of another rank (not a bug of this one)."""
    return isinstance(err, getattr(dist, "DistError", ())) or any(s in str(err).lower() for s in PEER_FAILURES)


def _first_line(err):
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines[0] if lines else type(err).__name__)[:200]


def device_of_process():
    """The device this rank computes on: its CUDA device under NCCL, the CPU under gloo."""
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def wrap(model, device):
    """DistributedDataParallel around ``model`` for the training pass; ``model`` itself when alone.

    DDP averages gradients over ranks during backward and, before every forward, copies rank 0's
    buffers (the Label_Encoder BatchNorm's running statistics) to the other ranks. Each rank
    normalises with its own batch's statistics (plain BatchNorm, not SyncBatchNorm).
    """
    if not is_distributed():
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def _reduce(tensor, op):
    """All-reduce a copy of ``tensor`` on the backend's device; returns it where ``tensor`` was."""
    if not is_distributed():
        return tensor
    work = tensor.detach().to(device_of_process(), copy=True)
    dist.all_reduce(work, op=op)
    return work.to(tensor.device)


def all_ranks(flag):
    """True only if ``flag`` is true on every rank (every rank gets the same answer)."""
    return bool(_reduce(torch.tensor([int(bool(flag))], dtype=torch.int32), dist.ReduceOp.MIN).item())


def mean_over_ranks(tensor):
    """The mean of ``tensor`` over ranks (``tensor`` itself in a single process)."""
    return _reduce(tensor, dist.ReduceOp.SUM) / world_size()


def broadcast_from_main(obj):
    """Rank 0's ``obj`` (any picklable value) on every rank."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=device_of_process())
    return box[0]


def barrier():
    if is_distributed():
        dist.barrier(device_ids=[torch.cuda.current_device()] if dist.get_backend() == "nccl" else None)


@contextmanager
def main_process_first():
    """Rank 0 runs the block first (e.g. generates a dataset, writes a cache), the others after it."""
    if not is_main_process():
        barrier()
    yield
    if is_main_process():
        barrier()
