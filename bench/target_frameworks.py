"""One adapter per benchmarked target: its modes (eager, compiled), arrays on a device, synchronised calls, its einsum and hand-written versions."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

from bench.target_versions import jax_versions, numpy_versions, torch_versions

# The modes of each target: numpy runs as called; "compiled" is
# torch.compile (inductor), "jit" is jax.jit.
MODES = {"numpy": ("eager",), "torch": ("eager", "compiled"), "jax": ("eager", "jit")}
EINSUM_LABEL = {"numpy": "np.einsum(optimize=True)", "torch": "torch.einsum", "jax": "jnp.einsum"}
TARGETS = tuple(MODES)


@dataclass
class Framework:
    name: str  # the einigc target
    modes: tuple[str, ...]
    hand: dict[str, Callable]
    einsum: dict[str, Callable]
    tensor: Callable  # (float32 ndarray, dtype name) -> an array of the framework on its device
    to_numpy: Callable  # an array of the framework -> a float64 ndarray
    wrap: Callable  # (fn, mode) -> fn as timed: compiled, waiting for the device
    info: dict  # versions and settings, for the report
    before_case: Callable = lambda: None  # forget compiled code between cases
    graph_breaks: Optional[Callable] = None  # (compiled fn, args) -> graph breaks, calling it once
    device: str = "cpu"


def pin_threads(threads: int) -> None:
    """`threads` per framework, set before any of them is imported (OpenMP, BLAS, XLA's CPU pool, inductor's compilers).

    On this shared 2-core machine (load average 5-6 from other jobs) two
    threads per call made torch's times bimodal: calls that waited on a
    descheduled OpenMP thread took 10-12 ms instead of 1 ms (a 4x4 matmul's
    neighbours in the table jumped 18x between rounds), so ratios meant
    nothing; with one thread the medians hold still.
    """
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TORCHINDUCTOR_COMPILE_THREADS"):
        os.environ[variable] = str(threads)
    if threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()


def load(name: str, device: str = "cpu") -> Framework:
    """The adapter of target `name` ("numpy", "torch", "jax") on `device` ("cpu" or "cuda")."""
    return {"numpy": _numpy, "torch": _torch, "jax": _jax}[name](device)


def _numpy(device: str) -> Framework:
    import numpy as np

    if device != "cpu":
        raise ValueError("numpy runs on the CPU only")
    hand, einsum = numpy_versions(np)
    return Framework(
        name="numpy",
        modes=MODES["numpy"],
        hand=hand,
        einsum=einsum,
        tensor=lambda array, dtype: array.astype(dtype),
        to_numpy=lambda value: np.asarray(value, dtype=np.float64),
        wrap=lambda fn, mode: fn,
        info={"numpy": np.__version__},
    )


def _torch(device: str) -> Framework:
    import torch
    import torch._dynamo

    # Inductor's own deprecation warnings, once per compiled graph.
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch")

    hand, einsum = torch_versions(torch)
    cuda = device == "cuda"
    if "OMP_NUM_THREADS" in os.environ and not cuda:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

    def wrap(fn, mode):
        run = torch.compile(fn) if mode == "compiled" else fn
        if not cuda:
            return run

        def synchronised(*args):
            out = run(*args)
            torch.cuda.synchronize()
            return out

        return synchronised

    def graph_breaks(fn, args):
        from torch._dynamo.utils import counters

        counters.clear()
        fn(*args)
        return sum(counters["graph_break"].values())

    opt = torch.backends.opt_einsum
    return Framework(
        name="torch",
        modes=MODES["torch"],
        hand=hand,
        einsum=einsum,
        tensor=lambda array, dtype: torch.from_numpy(array).to(device=device, dtype=getattr(torch, dtype)),
        to_numpy=lambda value: value.detach().to("cpu", torch.float64).numpy(),
        wrap=wrap,
        info={
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "opt_einsum": f"available={opt.is_available()}, enabled={opt.enabled}, strategy={opt.strategy}",
        },
        before_case=torch._dynamo.reset,
        graph_breaks=graph_breaks,
        device=device,
    )


def _jax(device: str) -> Framework:
    import jax
    import jax.numpy as jnp
    import numpy as np

    hand, einsum = jax_versions(jnp)
    platform = "gpu" if device == "cuda" else "cpu"
    where = jax.devices(platform)[0]

    def wrap(fn, mode):
        # JAX dispatches asynchronously: a call is timed until its result is ready.
        run = jax.jit(fn) if mode == "jit" else fn
        return lambda *args: jax.block_until_ready(run(*args))

    return Framework(
        name="jax",
        modes=MODES["jax"],
        hand=hand,
        einsum=einsum,
        tensor=lambda array, dtype: jax.device_put(jnp.asarray(array, dtype=getattr(jnp, dtype)), where),
        to_numpy=lambda value: np.asarray(value.astype(jnp.float32), dtype=np.float64),
        wrap=wrap,
        info={"jax": jax.__version__, "jaxlib": _jaxlib_version(), "device": str(where)},
        device=device,
    )


def _jaxlib_version() -> str:
    try:
        import jaxlib

        return jaxlib.__version__
    except (ImportError, AttributeError):
        return "unknown"
