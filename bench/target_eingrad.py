"""The per-target eingrad rows: each block of eingrad_cases.ein compiled for torch or jax, timed against torch.func / jax transforms.

The differentiated functions are tanh layers over fixed random weights, as in
bench/eingrad.py for TF; the hand-written column is what an expert writes
with the framework's own transforms (vjp, jvp, jacrev, hessian, vmap, grad).
Each variant is a closure over the callable, taking arrays only, so that
torch.compile and jax.jit see arrays as their arguments.
"""

from __future__ import annotations

import math

from bench.compiled import short_error
from bench.eingrad import BENCH, EINGRAD_SIZES, eingrad_blocks
from bench.targets import _relative_error, compile_generated
from bench.timing import Variant, run_interleaved

# Each form: its operands in the generated signature, "F:name" for a callable.
SIGNATURES = {
    "vjp": ("z", "F:vec", "x"),
    "jacobian": ("F:vec", "x"),
    "hessian": ("F:scalar", "x"),
    "batched_grad": ("F:rows", "xb"),
    "jvp": ("F:vec", "x", "v"),
    "batched_jvp": ("F:rows_vec", "xb", "vb"),
    "divergence": ("F:square", "x"),
    "batched_grad_exact": ("F:rows", "xb"),
    "batched_jacobian": ("F:rows_vec", "xb"),
    "expression_jacobian": ("x",),
}


def measure_eingrad(fw, build, kind: str, cfg: dict, rng, only=None, log=print):
    """(rows, notes) for framework adapter `fw` (torch or jax): generated vs hand per form and mode."""
    import numpy as np

    sizes = EINGRAD_SIZES["smoke" if kind == "quick" else "full"]
    arrays, funcs, hand = _setup(fw, sizes, rng)
    rows, notes = [], []
    for name, block in eingrad_blocks((BENCH / "eingrad_cases.ein").read_text()):
        if only is not None and name not in only:
            continue
        module, error = compile_generated(fw.name, None, build / f"eingrad_{name}_{fw.name}.py", text=block)
        if module is None:
            notes.append(f"eingrad {name}: not compiled for {fw.name}: {error}")
            continue
        fw.before_case()
        args = tuple(arrays[p] for p in SIGNATURES[name] if not p.startswith("F:"))
        variants = []
        for key, fn in (("generated", getattr(module, name)), ("hand", hand[name])):
            for mode in fw.modes:
                variants.append(Variant(key, mode, fw.wrap(_bound(fn, SIGNATURES[name], funcs), mode), args))
        outputs = {}
        run_interleaved(np, variants, cfg, first_outputs=outputs)
        expected = fw.to_numpy(outputs[("hand", "eager")]) if ("hand", "eager") in outputs else None
        for v in variants:
            if not v.ok:
                notes.append(f"eingrad {name} {v.key} {v.mode}: {v.note}")
            elif expected is not None:
                error = _relative_error(np, fw.to_numpy(outputs[(v.key, v.mode)]), expected)
                if not error <= 1e-3:
                    notes.append(f"eingrad {name} {v.key} {v.mode}: MISMATCH: relative error {error:.2e}")
                    v.median_us = None
        by = {(v.key, v.mode): v.median_us for v in variants}
        for mode in fw.modes:
            gen, ref = by[("generated", mode)], by[("hand", mode)]
            ratio = gen / ref if gen and ref else None
            rows.append({"form": name, "mode": mode, "generated": gen, "hand": ref, "gen_over_hand": ratio})
        text = ", ".join(f"{r['mode']} {_fmt(r['gen_over_hand'])}" for r in rows[-len(fw.modes) :])
        log(f"[bench] {fw.name} eingrad {name:<20} gen/hand {text}")
    return rows, notes, sizes


def _fmt(ratio) -> str:
    return "n/a" if ratio is None or not math.isfinite(ratio) else f"{ratio:.2f}×"


def _bound(fn, signature, funcs):
    def bound(*arrays):
        it = iter(arrays)
        return fn(*[funcs[p[2:]] if p.startswith("F:") else next(it) for p in signature])

    return bound


def _setup(fw, sizes, rng):
    """Arrays, the differentiated functions and the hand-written transforms of `fw`."""
    import numpy as np

    i, j, b = sizes["i"], sizes["j"], sizes["b"]
    t = lambda shape, scale=1.0: fw.tensor((rng.standard_normal(shape) * scale).astype(np.float32), "float32")
    w, wsq, wb = t((i, j), 1 / np.sqrt(j)), t((j, j), 1 / np.sqrt(j)), t((j, i), 1 / np.sqrt(j))
    arrays = {"x": t(j), "xb": t((b, j)), "z": t(i), "v": t(j), "vb": t((b, j))}
    if fw.name == "torch":
        import torch as xp
        from torch import func as ad
    else:
        import jax as ad
        import jax.numpy as xp
    funcs = {
        "vec": lambda x: xp.tanh(w @ x),
        "square": lambda x: xp.tanh(wsq @ x),
        "scalar": lambda x: (xp.tanh(w @ x) ** 2).sum(),
        "rows": lambda x: (xp.tanh(x @ wb) ** 2).sum(1),
        "rows_vec": lambda x: xp.tanh(x @ wb),
    }
    return arrays, funcs, _hand(ad, xp)


def _hand(ad, xp) -> dict:
    """The expert's derivatives with torch.func or jax (the same names in both)."""

    def row(f):
        return lambda r: f(r[None])[0]

    return {
        "vjp": lambda z, f, x: ad.vjp(f, x)[1](z)[0],
        "jacobian": lambda f, x: ad.jacrev(f)(x),
        "hessian": lambda f, x: ad.hessian(f)(x),
        # Rows independent: the gradient of the sum is every row's gradient.
        "batched_grad": lambda f, x: ad.grad(lambda t: f(t).sum())(x),
        "jvp": lambda f, x, v: ad.jvp(f, (x,), (v,))[1],
        "batched_jvp": lambda f, x, v: ad.jvp(f, (x,), (v,))[1],
        "divergence": lambda f, x: xp.trace(ad.jacrev(f)(x)),
        "batched_grad_exact": lambda f, x: xp.einsum("bbj->bj", ad.jacrev(f)(x)),
        "batched_jacobian": lambda f, x: ad.vmap(ad.jacrev(row(f)))(x),
        "expression_jacobian": lambda x: ad.jacrev(lambda t: t * t)(x),
    }


def render(target: str, section: dict) -> list[str]:
    """The eingrad table of one target's section, if it has one."""
    eingrad = section.get("eingrad")
    if not eingrad:
        return []
    hand = "torch.func" if target == "torch" else "jax transforms"
    out = [f"### {target}: eingrad", ""]
    out.append(
        f"Each block of bench/eingrad_cases.ein compiled for {target}, against the same derivative written with {hand} "
        f"(vjp, jvp, jacrev, hessian, grad, vmap), interleaved as above; sizes "
        + ", ".join(f"{k}={v}" for k, v in eingrad["sizes"].items())
        + "; results checked against the hand-written eager one."
    )
    out.append("")
    out.append("| form | mode | generated µs | hand µs | gen/hand |")
    out.append("| --- | --- | ---: | ---: | ---: |")
    from bench.report import fmt_us

    for row in eingrad["rows"]:
        out.append(
            f"| {row['form']} | {row['mode']} | {fmt_us(row['generated'])} | {fmt_us(row['hand'])} | "
            f"{_fmt(row['gen_over_hand'])} |"
        )
    out.append("")
    out += [f"- {note}" for note in eingrad["notes"]]
    out.append("")
    return out
