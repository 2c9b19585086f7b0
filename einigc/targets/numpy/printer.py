"""The NumPy printer: IR ops as NumPy calls; planned pairs as `np.matmul` or `np.einsum` without its own planning."""

from __future__ import annotations

from einigc.targets.array_module import ArrayModulePrinter


class NumpyPrinter(ArrayModulePrinter):
    # np.einsum plans nothing by default (optimize=False): a pair is the step
    # the compiler planned. np.matmul runs BLAS where np.einsum runs C loops.
    xp = "np"
    tensor_hint = "np.ndarray"
    order_picked = "when called"

    def _reduce(self, kind: str, operand: str, axis: str, keep: str = "") -> str:
        if kind == "logsumexp":
            self.helpers.add("logsumexp")
            return f"_logsumexp({operand}, axis={axis}{keep})"
        # From the semiring's zero: an empty axis gives it, as tf.reduce_max does.
        initial = "-np.inf" if kind == "max" else "np.inf"
        return f"np.{kind}({operand}, axis={axis}{keep}, initial={initial})"
