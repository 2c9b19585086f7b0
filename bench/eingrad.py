"""The eingrad cases: each block of eingrad_cases.ein compiled on its own, timed against tapes and naive loops."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from bench.compiled import compile_module_text, short_error
from bench.timing import relative_error, run_interleaved, tf_variants, to_numpy

BENCH = Path(__file__).resolve().parent
EINGRAD_SIZES = {"full": dict(i=64, j=64, b=64), "smoke": dict(i=3, j=4, b=2)}


def eingrad_blocks(text: str) -> list[tuple[str, str]]:
    """(name, declaration text) of each block of `text` that uses eingrad."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", text):
        body = [ln for ln in chunk.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if not body or '"""' in chunk:
            continue
        match = re.match(r"\s*([A-Za-z_]\w*)\s*\(", body[0])
        if match and "eingrad(" in chunk:
            blocks.append((match.group(1), chunk.strip() + "\n"))
    return blocks


def run_eingrad(tf, np, cfg, build: Path, kind: str, rng, only=None) -> dict:
    """Compiles and times every block (compiled block by block: one rejected block skips only itself)."""
    text = (BENCH / "eingrad_cases.ein").read_text()
    refs = build_eingrad_cases(tf, np, EINGRAD_SIZES[kind], rng)
    report = {"rows": [], "skipped": [], "reference_checks": [], "traced_when_eager": [], "sizes": EINGRAD_SIZES[kind]}
    for name, block in eingrad_blocks(text):
        if only is not None and name not in only:
            continue
        if name not in refs:
            report["skipped"].append((name, "no hand-written reference in bench/eingrad.py"))
            continue
        args, hand, naive = refs[name]
        # The references check each other whether or not einigc compiles the case.
        try:
            err = relative_error(np, to_numpy(naive(*args)), to_numpy(hand(*args)))
            report["reference_checks"].append((name, err))
        except Exception as exc:  # noqa: BLE001
            report["reference_checks"].append((name, short_error(exc)))
        out_path = build / f"eingrad_{name}_generated.py"
        try:
            gen = getattr(compile_module_text(block, out_path, f"eingrad_{name}", "eingrad_cases.ein"), name)
            if re.search(r"@\w*trace\w*\s*\ndef " + name + r"\(", out_path.read_text()):
                report["traced_when_eager"].append(name)
        except Exception as exc:  # noqa: BLE001
            report["skipped"].append((name, short_error(exc)))
            continue
        reference = to_numpy(hand(*args))
        variants = tf_variants(tf, [("generated", gen), ("hand", hand), ("naive loop", naive)], args)
        run_interleaved(np, variants, dict(cfg, budget=cfg["eingrad_budget"]), reference=reference, tolerance=1e-3)
        report["rows"].append((name, variants))
    return report


def build_eingrad_cases(tf, np, sizes: dict, rng) -> dict:
    """name -> (args, hand, naive loop); the callables close over fixed weights."""
    f = _functions(tf, np, sizes, rng)
    tape = _tape_references(tf)
    naive = _naive_loops(tf)
    jacobian_hand = tape.jacobian
    return {
        "batched_grad_exact": ((f.rows, f.xb), tape.batched_grad_exact, naive.batched_grad),
        "batched_jacobian": ((f.rows_vec, f.xb), tape.batched_jacobian, naive.batched_jacobian),
        "expression_jacobian": ((f.x,), lambda t: jacobian_hand(f.square, t), lambda t: naive.loop_rows(f.square, t)),
        "vjp": ((f.z, f.vec, f.x), tape.vjp, naive.vjp),
        "jacobian": ((f.vec, f.x), jacobian_hand, lambda fn, t: naive.loop_rows(fn, t)),
        "hessian": ((f.scalar, f.x), tape.hessian, naive.hessian),
        "batched_grad": ((f.rows, f.xb), tape.batched_grad, naive.batched_grad),
        "jvp": ((f.vec, f.x, f.v), tape.jvp, naive.jvp),
        "batched_jvp": ((f.rows_vec, f.xb, f.vb), tape.jvp, naive.batched_jvp),
        "divergence": ((f.square_matrix, f.x), tape.divergence, naive.divergence),
    }


def _functions(tf, np, sizes: dict, rng) -> SimpleNamespace:
    """The functions differentiated, over fixed random weights, and their inputs."""
    i, j, b = sizes["i"], sizes["j"], sizes["b"]

    def weights(shape):
        return tf.constant((rng.standard_normal(shape) / np.sqrt(j)).astype(np.float32))

    # The draws keep this order: every number of the run depends on it.
    w, wsq, wb = weights((i, j)), weights((j, j)), weights((j, i))
    x = tf.constant(rng.standard_normal(j).astype(np.float32))
    xb = tf.constant(rng.standard_normal((b, j)).astype(np.float32))
    z = tf.constant(rng.standard_normal(i).astype(np.float32))
    v = tf.constant(rng.standard_normal(j).astype(np.float32))
    vb = tf.constant(rng.standard_normal((b, j)).astype(np.float32))

    def f_vec(t):  # R^j -> R^i
        return tf.tanh(tf.linalg.matvec(w, t))

    def f_square(t):  # R^j -> R^j
        return tf.tanh(tf.linalg.matvec(wsq, t))

    def f_scalar(t):  # R^j -> R
        return tf.reduce_sum(tf.tanh(tf.linalg.matvec(w, t)) ** 2)

    def f_rows(t):  # [b, j] -> [b], rows independent
        return tf.reduce_sum(tf.tanh(tf.linalg.matmul(t, wb)) ** 2, axis=1)

    def f_rows_vec(t):  # [b, j] -> [b, i], rows independent
        return tf.tanh(tf.linalg.matmul(t, wb))

    def square(t):
        return t * t

    return SimpleNamespace(
        x=x, xb=xb, z=z, v=v, vb=vb, vec=f_vec, square_matrix=f_square, scalar=f_scalar,
        rows=f_rows, rows_vec=f_rows_vec, square=square,
    )


def _tape_references(tf) -> SimpleNamespace:
    """The hand-written derivatives: tapes, nested tapes, ForwardAccumulator."""

    def vjp_hand(z, f, t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            out = f(t)
        return tape.gradient(out, t, output_gradients=z)

    def jacobian_hand(f, t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            out = f(t)
        return tape.jacobian(out, t)

    def hessian_hand(f, t):
        with tf.GradientTape() as outer:
            outer.watch(t)
            with tf.GradientTape() as inner:
                inner.watch(t)
                out = f(t)
            grad = inner.gradient(out, t)
        return outer.jacobian(grad, t)

    def batched_grad_hand(f, t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            out = f(t)
        return tape.gradient(out, t)  # rows independent: the sum's gradient is the diagonal

    def jvp_hand(f, t, tangent):
        with tf.autodiff.ForwardAccumulator(t, tangent) as acc:
            out = f(t)
        return acc.jvp(out)

    def divergence_hand(f, t):
        return tf.linalg.trace(jacobian_hand(f, t))

    def batched_grad_exact_hand(f, t):
        return tf.einsum("bbj->bj", jacobian_hand(f, t))

    def batched_jacobian_hand(f, t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            out = f(t)
        return tape.batch_jacobian(out, t)

    return SimpleNamespace(
        vjp=vjp_hand, jacobian=jacobian_hand, hessian=hessian_hand, batched_grad=batched_grad_hand,
        jvp=jvp_hand, divergence=divergence_hand, batched_grad_exact=batched_grad_exact_hand,
        batched_jacobian=batched_jacobian_hand,
    )


def _naive_loops(tf) -> SimpleNamespace:
    """The naive derivatives: one reverse pass per output entry, as tf.gradients loops do."""

    def loop_rows(f, t):
        # The naive Jacobian: one reverse pass per output entry.
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(t)
            out = tf.reshape(f(t), [-1])
            entries = [out[r] for r in range(out.shape[0])]
        return tf.stack([tape.gradient(e, t) for e in entries])

    def hessian_naive(f, t):
        with tf.GradientTape(persistent=True) as outer:
            outer.watch(t)
            with tf.GradientTape() as inner:
                inner.watch(t)
                out = f(t)
            grad = inner.gradient(out, t)
            entries = [grad[r] for r in range(grad.shape[0])]
        return tf.stack([outer.gradient(e, t) for e in entries])

    def batched_grad_naive(f, t):
        jac = loop_rows(f, t)  # [b, b, j]
        return tf.einsum("bbj->bj", jac)

    def jvp_naive(f, t, tangent):
        return tf.linalg.matvec(loop_rows(f, t), tangent)

    def batched_jvp_naive(f, t, tangent):
        # The classic per-output-column loop: gradients(y[:, i], x) is row b's
        # gradient of y[b, i] because rows are independent; then dot with v.
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(t)
            out = f(t)
            columns = [out[:, c] for c in range(out.shape[1])]
        return tf.stack([tf.reduce_sum(tape.gradient(col, t) * tangent, axis=1) for col in columns], axis=1)

    def divergence_naive(f, t):
        return tf.linalg.trace(loop_rows(f, t))

    def batched_jacobian_naive(f, t):
        jac = loop_rows(f, t)  # [b * i, b, j]
        return tf.einsum("bibj->bij", tf.reshape(jac, [t.shape[0], -1, *t.shape]))

    def vjp_naive(z, f, t):
        return tf.linalg.matvec(loop_rows(f, t), z, transpose_a=True)

    return SimpleNamespace(
        loop_rows=loop_rows, hessian=hessian_naive, batched_grad=batched_grad_naive, jvp=jvp_naive,
        batched_jvp=batched_jvp_naive, divergence=divergence_naive, batched_jacobian=batched_jacobian_naive,
        vjp=vjp_naive,
    )
