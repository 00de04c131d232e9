"""Where and how the networks run: the device, autocast, and process-wide speed settings (CPU
threads, denormals, the glibc allocator, cuDNN autotuning).

``configure(device, channels_last, amp)`` is called once by Trainer.py, Tester.py and val_PSNR.py after
parsing their flags.
What each setting does and what it was measured to give is in docs/performance.md. Training and
evaluation both use this module, so it sits beside the core, not under ``train/``.
"""
import ctypes
import ctypes.util
import os
import platform
import sys
from contextlib import nullcontext

import torch


AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# /proc/cpuinfo flags of the CPU instructions that run bf16 natively (Intel AMX, AVX512-BF16 on
# Cooper Lake / Sapphire Rapids and newer, AMD Zen 4 and newer).
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})

# glibc <malloc.h> mallopt parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks up to this size come from the heap instead of a fresh mmap, and freed heap memory is
# kept instead of returned to the kernel. glibc otherwise mmaps every block over 32 MiB (a
# training step at template widths allocates many 50-200 MB activation buffers) and unmaps it
# on free, so every step page-faults its activations in again. mallopt takes an int: 1 GiB.
ALLOCATOR_THRESHOLD = 1 << 30
# The same settings as environment variables (read by glibc at start-up); when either is set,
# the user's values are left alone. LAB4_NO_MALLOPT=1 also leaves the allocator alone.
ALLOCATOR_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
OPT_OUT_ENV = "LAB4_NO_MALLOPT"


def core_count():
    """CPU cores this process may run on (its affinity mask, e.g. under taskset or a container)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def configure_threads(threads=None):
    """Use ``threads`` intra-op threads (default: torch's own choice, which follows
    OMP_NUM_THREADS), never more than the cores this process may use: oversubscribed OpenMP
    threads wait on each other (measured 2.4x slower). Returns the count set."""
    wanted = threads if threads else torch.get_num_threads()
    count = max(1, min(wanted, core_count()))
    torch.set_num_threads(count)
    return count


def tune_allocator():
    """Set glibc's mmap and trim thresholds (see ALLOCATOR_THRESHOLD) in this process.

    Returns True when set; False off glibc, when the user set MALLOC_*_THRESHOLD_ or LAB4_NO_MALLOPT,
    or when mallopt refuses. Frees nothing and changes no results, only where memory comes from;
    the cost is that memory freed after the peak stays with the process.
    """
    if os.environ.get(OPT_OUT_ENV) or any(name in os.environ for name in ALLOCATOR_ENV):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, ALLOCATOR_THRESHOLD)
                    and libc.mallopt(_M_TRIM_THRESHOLD, ALLOCATOR_THRESHOLD))
    except (OSError, AttributeError):
        return False


def configure_cpu(threads=None):
    """Threads <= cores, denormals flushed to zero, the allocator thresholds. Returns a summary."""
    count = configure_threads(threads)
    torch.set_flush_denormal(True)  # no-op (False) on CPUs without the instruction
    return {"threads": count, "cores": core_count(), "allocator_tuned": tune_allocator()}


def use_cuda(requested):
    return requested == "cuda" and torch.cuda.is_available()


CPU_FALLBACK = "note: --device cuda (the default) but CUDA is not available here: running on the CPU"


def resolve_device(requested):
    """``cuda`` when asked for and available; otherwise ``cpu``. Falling back from cuda prints one plain
    line on stderr (a Python warning would add a source file and line, which mean nothing to a user)."""
    if requested == "cuda" and not use_cuda(requested):
        print(CPU_FALLBACK, file=sys.stderr, flush=True)
        return torch.device("cpu")
    return torch.device(requested)


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags (Linux /proc/cpuinfo); an empty set where that cannot be read."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name (Linux /proc/cpuinfo), else what the platform module says."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe_hardware(device, amp):
    """One line for the start of a run: what it runs on and in which precision, so a user knows
    which of the measured times (docs/performance.md) applies. ``amp``: the resolved --amp."""
    precision = {"bf16": "bf16 autocast", "fp16": "fp16 autocast"}.get(amp, "fp32")
    if device.type == "cuda":
        return f"running on {torch.cuda.get_device_name(device)}: {precision}"
    native = sorted(BF16_CPU_FLAGS & cpu_flags())
    bf16 = f"native bf16: {', '.join(native)}" if native else "no native bf16 (no AVX512-BF16 or AMX)"
    threads = torch.get_num_threads()
    return (f"running on {cpu_model()}: {torch.backends.cpu.get_cpu_capability()}, {bf16}; {threads} "
            f"thread{'s' if threads > 1 else ''}, {precision}")


def bf16_is_fast(device_type, flags=(), cuda_capability=None):
    """Whether bf16 convolutions and GEMMs run natively here (so ``--amp auto`` picks bf16).

    CUDA: compute capability 8.0 (Ampere) or newer; older GPUs only emulate bf16. CPU: the
    AMX_BF16 or AVX512_BF16 instructions (``flags``, as in /proc/cpuinfo), which oneDNN uses; on
    an AVX2-only CPU (e.g. AMD EPYC before Zen 4) bf16 is converted in software and is slower than
    fp32. A pure function of its arguments, so the choice is testable on any machine.
    """
    if device_type == "cuda":
        return cuda_capability is not None and tuple(cuda_capability) >= (8, 0)
    return bool(BF16_CPU_FLAGS & set(flags))


def resolve_amp(amp, device_type):
    """``--amp`` resolved: ``auto`` becomes ``bf16`` where :func:`bf16_is_fast` says so, else ``none``;
    any other value is returned as given."""
    if amp != "auto":
        return amp
    if device_type == "cuda":
        capability = torch.cuda.get_device_capability() if torch.cuda.is_available() else None
        return "bf16" if bf16_is_fast("cuda", cuda_capability=capability) else "none"
    fast = bf16_is_fast("cpu", cpu_flags()) and torch.backends.mkldnn.is_available()
    return "bf16" if fast else "none"


def autocast_context(device, amp):
    """Autocast to ``amp`` (``bf16``/``fp16``, ``auto`` resolved) on ``device``; a no-op for ``none``."""
    amp = resolve_amp(amp, device.type)
    if amp == "none":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=AMP_DTYPES[amp])


def torch_seed(seed):
    """``seed`` (any int) as the 64-bit seed torch takes. torch wraps a negative
    seed the same way, so every seed torch accepted keeps its random numbers."""
    return seed % 2**64


def channels_last_for(flag, device_type):
    """``--channels_last`` resolved: the flag when given, else on for the CPU (1.1-1.25x measured
    there, and NCHW depthwise convs with gradients are ~10x slower), off for CUDA (only worth it
    with --amp on tensor cores: turn it on there)."""
    return device_type == "cpu" if flag is None else bool(flag)


def configure(device, channels_last=None, amp="none"):
    """Apply the process-wide settings for ``device`` (--device); returns them, with the ``channels_last``
    and ``amp`` flags resolved for it (None: the device's default; auto: bf16 where it is native)."""
    device_type = "cuda" if use_cuda(device) else "cpu"
    summary = configure_cpu()
    if device_type == "cuda":
        # Fixed shapes: let cuDNN time its algorithms once per shape and keep the fastest.
        torch.backends.cudnn.benchmark = True
    summary.update(device=device_type, channels_last=channels_last_for(channels_last, device_type),
                   amp=resolve_amp(amp, device_type))
    return summary
