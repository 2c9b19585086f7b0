"""The framework adapters of bench/eingrad_pairs.py: arrays in, numpy out, and each mode's wrapper (tf.function, torch.compile, jax.jit)."""

from __future__ import annotations

import types


def adapter(target: str, threads: int) -> types.SimpleNamespace:
    """tensor, to_numpy, wrap(fn, mode), before_case and versions for `target`, its threads pinned before its import."""
    from bench.target_frameworks import load, pin_threads

    pin_threads(threads)
    if target == "tensorflow":
        return _tensorflow(threads)
    fw = load(target)  # bench/target_frameworks.py: the per-target benchmark's adapters
    modes = {"eager": "eager", "torch.compile": "compiled", "jax.jit": "jit"}
    return types.SimpleNamespace(
        tensor=lambda array: fw.tensor(array, "float32"),
        to_numpy=fw.to_numpy,
        wrap=lambda fn, mode: fw.wrap(fn, modes[mode]),
        before_case=fw.before_case,
        versions=fw.info,
    )


def _tensorflow(threads: int) -> types.SimpleNamespace:
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    tf.get_logger().setLevel("ERROR")  # pfor's retracing warnings inside tape.jacobian
    return types.SimpleNamespace(
        tensor=tf.constant,
        to_numpy=lambda value: np.asarray(value.numpy(), dtype=np.float64),
        wrap=lambda fn, mode: tf.function(fn) if mode == "tf.function" else fn,
        before_case=lambda: None,
        versions={"tensorflow": tf.__version__, "threads": threads},
    )
