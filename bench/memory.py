"""Peak memory of the exponential-space case: each variant runs once, in a fresh subprocess of its own."""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from bench.compiled import import_path
from bench.timing import to_numpy

MEMORY_VARIANTS = ("generated", "hand", "tf.einsum", "naive broadcast (TF)", "np True", "np False")
MEMORY_EQ = "ab,bc,cd,de,ef,fg->ag"
RUN = Path(__file__).resolve().parent / "run.py"  # a child is `run.py --memory-variant ...`
_PREFIX = "MEMORY-RESULT "


def vm(field_name: str) -> Optional[int]:
    """A field of /proc/self/status in KiB (VmRSS, VmHWM), None where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure_memory(n: int, build: Path, parallel: int) -> list[dict]:
    """The peaks of every variant at size `n`, `parallel` children at a time."""

    def one(variant):
        cmd = [sys.executable, str(RUN), "--memory-variant", variant, "--memory-n", str(n), "--build", str(build)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        for line in proc.stdout.splitlines():
            if line.startswith(_PREFIX):
                return json.loads(line[len(_PREFIX) :])
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"variant": variant, "error": f"exit {proc.returncode}: {tail[:160]}"}

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, MEMORY_VARIANTS))


def memory_child(variant: str, n: int, build: Path) -> None:
    """Runs one variant of the memory case once and prints its peaks as JSON."""
    import numpy as np
    import tensorflow as tf

    gen = import_path(build / "cases_generated.py", "cases_generated")
    rng = np.random.default_rng(0)

    def inputs(size):
        arrays = [rng.standard_normal((size, size)).astype(np.float32) for _ in range(6)]
        return arrays, [tf.constant(a) for a in arrays]

    fn = _variants(tf, np, gen)[variant]
    is_np = variant.startswith("np")
    # Warm the runtime and this variant's kernels at a tiny size first.
    small_np, small_tf = inputs(2)
    fn(*(small_np if is_np else small_tf))
    arrays, tensors = inputs(n)
    args = arrays if is_np else tensors
    gc.collect()
    try:
        tf.config.experimental.reset_memory_stats("CPU:0")
    except Exception:  # noqa: BLE001
        pass
    rss_before = vm("VmRSS")
    reset = False
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM (the peak RSS) to the current RSS
        reset = True
    except OSError:
        pass
    out = fn(*args)
    _ = to_numpy(out)
    hwm = vm("VmHWM")
    tf_peak = None
    if not is_np:
        try:
            tf_peak = int(tf.config.experimental.get_memory_info("CPU:0")["peak"])
        except Exception:  # noqa: BLE001
            tf_peak = None
    result = {
        "variant": variant,
        "rss_before_kb": rss_before,
        "hwm_after_kb": hwm if reset else None,
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "tf_peak_bytes": tf_peak,
    }
    print(_PREFIX + json.dumps(result))


def _variants(tf, np, gen) -> dict:
    def naive_broadcast(a, b, c, d, e, f):
        # Every index at once: [a, b, c, d, e, f, g], then sum b..f.
        size = a.shape[0]
        product = tf.reshape(a, [size, size, 1, 1, 1, 1, 1])
        for axis, m in enumerate((b, c, d, e, f), start=1):
            shape = [1] * 7
            shape[axis], shape[axis + 1] = size, size
            product = product * tf.reshape(m, shape)
        return tf.reduce_sum(product, axis=[1, 2, 3, 4, 5])

    mm = tf.linalg.matmul
    return {
        "generated": lambda *t: gen.chain6(*t),
        "hand": lambda a, b, c, d, e, f: mm(mm(mm(mm(mm(a, b), c), d), e), f),
        "tf.einsum": lambda *t: tf.einsum(MEMORY_EQ, *t),
        "naive broadcast (TF)": naive_broadcast,
        "np True": lambda *a: np.einsum(MEMORY_EQ, *a, optimize=True),
        "np False": lambda *a: np.einsum(MEMORY_EQ, *a, optimize=False),
    }
