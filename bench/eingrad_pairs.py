"""eingrad with several `%` pairs on TensorFlow: the generated strategy against hand-written tape programs.

    PYTHONPATH=. python -m bench.eingrad_pairs    # prints the rows of bench/results/eingrad_pairs.md

f(w) = tanh(X W - mean_b(X W)), X 64x32, W 32x16 (512 weights, 1024 outputs), float32.
Medians of interleaved rounds, eagerly and under tf.function.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import tensorflow as tf

from tests import pairs_cases
from tests.ein_harness import compile_and_import

ROUNDS = 15


def model():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(64, 32)), tf.float32)

    def f(w):
        z = x @ tf.reshape(w, (32, 16))
        return tf.tanh(z - tf.reduce_mean(z, 0))

    w = tf.constant(rng.normal(size=512) * 0.2, tf.float32)
    v = tf.constant(rng.normal(size=512), tf.float32)
    return f, w, v


def hand_ggn_vp(f, w, v):
    # J v by forward mode, then Jᵀ(J v) by one reverse pass of the same recording.
    with tf.GradientTape() as tape:
        tape.watch(w)
        with tf.autodiff.ForwardAccumulator(w, v) as acc:
            y = f(w)
        jv = acc.jvp(y)
    return tape.gradient(y, w, output_gradients=jv)


def hand_gauss_newton(f, w):
    with tf.GradientTape() as tape:
        tape.watch(w)
        y = f(w)
    jacobian = tape.jacobian(y, w)
    return tf.einsum("bip,biq->pq", jacobian, jacobian)


def chosen(fn) -> str:
    """The docstring's lowering note of the whole spec (the last one), up to its reason."""
    note = " ".join(fn.__doc__.split()).split("lowering: ")[-1]
    return note.split("; chosen")[0].split("; no JVP")[0]


def time_rounds(variants: dict) -> dict:
    times = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def main() -> None:
    m = compile_and_import(pairs_cases.SPEC, "pairs.ein", "tensorflow")[0]
    f, w, v = model()

    def generated_ggn_vp():
        return m.ggn_vp(f, w, v)

    def tapes_ggn_vp():
        return hand_ggn_vp(f, w, v)

    def generated_gauss_newton():
        return m.gauss_newton(f, w)

    def tapes_gauss_newton():
        return hand_gauss_newton(f, w)

    cases = {"ggn_vp": (generated_ggn_vp, tapes_ggn_vp), "gauss_newton": (generated_gauss_newton, tapes_gauss_newton)}
    print("| case | mode | einig ms | hand-written tapes ms | max rel. diff | strategy chosen |")
    print("|---|---|---|---|---|---|")
    for name, (generated, hand) in cases.items():
        ref = hand().numpy()
        diff = float(np.abs(generated().numpy() - ref).max() / np.abs(ref).max())
        graph = {"einig": tf.function(generated), "hand": tf.function(hand)}
        for mode, variants in (("eager", {"einig": generated, "hand": hand}), ("tf.function", graph)):
            for run in variants.values():
                run()  # warm (traces)
            ms = time_rounds(variants)
            print(
                f"| {name} | {mode} | {ms['einig']:.2f} | {ms['hand']:.2f} | {diff:.1e} | {chosen(getattr(m, name))} |"
            )


if __name__ == "__main__":
    main()
