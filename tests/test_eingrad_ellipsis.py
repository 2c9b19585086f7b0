"""`...` beside '%': the same axes in every operand, like shared letters, with the exact diagonal, on every target.

The model's rows interact (each is centred on half the mean over all rows), so
only the exact diagonal J[r, i, r, j] matches the closed form: a lowering that
treated the rows as independent would miss the -0.5/R term.
"""

from __future__ import annotations

import contextlib
import types

import numpy as np
import pytest

from einigc.compiler import compile_text
from einigc.errors import CompileErrors
from tests.ein_harness import compile_and_import

SPEC = """\
rows(f, x) = eingrad("...%...j->...j", f, x)
row_jvp(f, x, v) = eingrad("...i%...j,...j->...i", f, x, v)
row_vjp(z, f, x) = eingrad("...i,...i%...j->...j", z, f, x)
row_gauss_newton(f, x) = eingrad("...i%...j,...i%...k->...jk", f, x, f, x)
row_trace(f, x, a) = eingrad("...i%...j,ji->", f, x, a)
"""

RNG = np.random.default_rng(6)
A = RNG.normal(size=(3, 4))  # x's features j to f's outputs i
LEADING = [(), (5,), (2, 3)]  # the axes `...` stands for


def _model(ns):
    """f(x)[r, i] = tanh(x A - mean_r(x A) / 2)[r, i], and its row sum (for `rows`)."""
    a = ns.const(A)

    def f(x):
        z = ns.matmul(x, a)
        return ns.tanh(z - 0.5 * ns.mean_leading(z))

    return types.SimpleNamespace(f=f, f_sum=lambda x: ns.sum_last(f(x)))


def _diagonal(x: np.ndarray) -> np.ndarray:
    """D[..., i, j] = d f[..., i] / d x[..., j] at the same row: (1 - y^2)[.., i] A[j, i] (1 - 0.5 / R)."""
    rows = int(np.prod(x.shape[:-1]))
    z = x @ A
    mean = z.reshape(-1, 4).mean(0)
    slope = 1 - np.tanh(z - 0.5 * mean) ** 2
    return slope[..., :, None] * A.T * (1 - 0.5 / rows)


def _case(name: str, leading):
    """(arguments as numpy arrays and model names, expected value)."""
    x = RNG.normal(size=(*leading, 3))
    d = _diagonal(x)
    if name == "rows":
        return ["f_sum", x], d.sum(-2)
    if name == "row_jvp":
        v = RNG.normal(size=(*leading, 3))
        return ["f", x, v], np.einsum("...ij,...j->...i", d, v)
    if name == "row_vjp":
        z = RNG.normal(size=(*leading, 4))
        return [z, "f", x], np.einsum("...i,...ij->...j", z, d)
    if name == "row_gauss_newton":
        return ["f", x], np.einsum("...ij,...ik->...jk", d, d)
    if name == "row_trace":
        a = RNG.normal(size=(3, 4))
        return ["f", x, a], np.einsum("rij,ji->", d.reshape(-1, 4, 3), a)
    raise KeyError(name)


NAMES = ("rows", "row_jvp", "row_vjp", "row_gauss_newton", "row_trace")


def _framework(target: str):
    if target == "tensorflow":
        tf = pytest.importorskip("tensorflow")
        ns = types.SimpleNamespace(
            const=lambda a: tf.constant(a, tf.float64),
            matmul=lambda x, a: tf.tensordot(x, a, 1),
            tanh=tf.tanh,
            mean_leading=lambda z: tf.reduce_mean(tf.reshape(z, [-1, 4]), 0),
            sum_last=lambda y: tf.reduce_sum(y, -1),
        )
        return ns, ns.const, lambda t: t.numpy()
    if target == "torch":
        torch = pytest.importorskip("torch")
        ns = types.SimpleNamespace(
            const=lambda a: torch.tensor(a, dtype=torch.float64),
            matmul=torch.matmul,
            tanh=torch.tanh,
            mean_leading=lambda z: z.reshape(-1, 4).mean(0),
            sum_last=lambda y: y.sum(-1),
        )
        return ns, ns.const, lambda t: t.detach().numpy()
    jnp = pytest.importorskip("jax.numpy")
    ns = types.SimpleNamespace(
        const=lambda a: jnp.asarray(a, jnp.float64),
        matmul=jnp.matmul,
        tanh=jnp.tanh,
        mean_leading=lambda z: z.reshape(-1, 4).mean(0),
        sum_last=lambda y: y.sum(-1),
    )
    return ns, ns.const, np.asarray


def _x64(target: str):
    return pytest.importorskip("jax").enable_x64(True) if target == "jax" else contextlib.nullcontext()


def _arguments(names_and_arrays, model, tensor):
    return [getattr(model, a) if isinstance(a, str) else tensor(a) for a in names_and_arrays]


MODES = [
    ("tensorflow", "eager"),
    ("tensorflow", "tf.function"),
    ("torch", "eager"),
    ("jax", "eager"),
    ("jax", "jit"),
]


@pytest.mark.parametrize("leading", LEADING, ids=lambda s: "x".join(map(str, s)) or "scalar")
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("target,mode", MODES)
def test_the_exact_diagonal_along_the_ellipsis(target, mode, name, leading):
    with _x64(target):
        ns, tensor, to_numpy = _framework(target)
        fn = getattr(compile_and_import(SPEC, "rows.ein", target)[0], name)
        raw, expected = _case(name, leading)
        args = _arguments(raw, _model(ns), tensor)
        if mode == "tf.function":
            import tensorflow as tf

            # Unknown sizes, known ranks: the composite's rank comes from x's.
            tensors = [k for k, a in enumerate(args) if isinstance(a, tf.Tensor)]
            signature = [tf.TensorSpec([None] * len(args[k].shape), tf.float64) for k in tensors]

            @tf.function(input_signature=signature)
            def run(*ts):
                full = list(args)
                for k, t in zip(tensors, ts):
                    full[k] = t
                return fn(*full)

            out = run(*[args[k] for k in tensors])
        elif mode == "jit":
            import jax

            callables = {k: a for k, a in enumerate(args) if callable(a)}
            arrays = [k for k in range(len(args)) if k not in callables]

            def call(*ts):
                full = {**callables, **dict(zip(arrays, ts))}
                return fn(*[full[k] for k in range(len(args))])

            out = jax.jit(call)(*[args[k] for k in arrays])
        else:
            out = fn(*args)
        np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("target", ["tensorflow", "torch", "jax"])
def test_the_ellipsis_does_not_broadcast_beside_percent(target):
    """A tangent whose `...` axes are 1 where x's are 5 is refused: broadcasting would pair unrelated rows."""
    with _x64(target):
        ns, tensor, _ = _framework(target)
        m = compile_and_import(SPEC, "rows.ein", target)[0]
        model = _model(ns)
        x, v = tensor(RNG.normal(size=(5, 3))), tensor(RNG.normal(size=(1, 3)))
        with pytest.raises((ValueError, RuntimeError)) as refused:
            m.row_jvp(model.f, x, v)
        assert "row_jvp" in str(refused.value)


@pytest.mark.parametrize("target", ["tensorflow", "torch", "jax"])
def test_a_value_with_other_leading_axes_is_refused(target):
    with _x64(target):
        ns, tensor, _ = _framework(target)
        m = compile_and_import(SPEC, "rows.ein", target)[0]
        model = _model(ns)
        with pytest.raises((ValueError, RuntimeError)) as refused:
            m.row_jvp(lambda x: model.f(x)[0], tensor(RNG.normal(size=(2, 5, 3))), tensor(RNG.normal(size=(2, 5, 3))))
        message = str(refused.value)
        assert "row_jvp" in message and "f(x)" in message


def test_tf_function_with_unknown_sizes_refuses_a_wrong_tangent():
    tf = pytest.importorskip("tensorflow")
    ns, tensor, _ = _framework("tensorflow")
    m = compile_and_import(SPEC, "rows.ein", "tensorflow")[0]
    model = _model(ns)
    spec = tf.TensorSpec([None, None], tf.float64)
    run = tf.function(lambda x, v: m.row_jvp(model.f, x, v), input_signature=[spec, spec])
    with pytest.raises(tf.errors.InvalidArgumentError, match="row_jvp"):
        run(tensor(RNG.normal(size=(5, 3))), tensor(RNG.normal(size=(4, 3))))


def test_the_same_as_a_composite():
    """`...%...j->...j` compiles to the code of `B%Bj->Bj` up to the composite's name and the docstring."""
    ellipsis = compile_text('rows(f, x) = eingrad("...%...j->...j", f, x)\n', "rows.ein").source
    composite = compile_text('rows(f, x) = eingrad("Z%Zj->Zj", f, x)\n', "rows.ein").source
    body = lambda source: source[source.index('    """\n    (x,)') :].replace("ellipsis_shape", "Z_shape")
    assert body(ellipsis) == body(composite)


def test_the_docstring_shows_the_ellipsis_and_names_its_composite():
    source = compile_text(SPEC, "rows.ein", "torch").source
    assert "x: [..., j]" in source
    assert "'...' beside '%' is the same axes in every operand" in source
    assert "the composite 'Z'" in source
    assert 'eingrad("Zi%Zj->Zij")' in source  # each pair's own Jacobian, in the composite's name
    doc = " ".join(source[source.index("def row_gauss_newton(") :].split())
    assert doc.index('eingrad("Zi%Zj->Zij")') < doc.index("the composite 'Z' above")


def test_the_composite_avoids_the_spec_letters():
    source = compile_text('r(f, x, y) = eingrad("...%...j,jZ->...Z", f, x, y)\n', "r.ein").source
    assert "the composite 'Y'" in source


def test_numpy_still_refuses_eingrad():
    with pytest.raises(CompileErrors) as refused:
        compile_text('rows(f, x) = eingrad("...%...j->...j", f, x)\n', "rows.ein", "numpy")
    assert "automatic differentiation" in refused.value.diagnostics[0].message


@pytest.mark.parametrize("target", ["tensorflow", "torch", "jax"])
def test_zero_rows_and_a_missing_axis(target):
    with _x64(target):
        ns, tensor, to_numpy = _framework(target)
        m = compile_and_import(SPEC, "rows.ein", target)[0]
        model = _model(ns)
        empty = tensor(np.zeros((0, 3)))
        assert to_numpy(m.rows(model.f_sum, empty)).shape == (0, 3)
        assert to_numpy(m.row_jvp(model.f, empty, empty)).shape == (0, 4)
        with pytest.raises(ValueError, match=r"rows: operand 'x' \(Zj\) needs rank >= 1"):
            m.rows(model.f_sum, tensor(np.zeros(())))


@pytest.mark.parametrize("target", ["tensorflow", "torch", "jax"])
def test_one_jacobian_for_two_pairs_of_the_same_function_and_variable(target):
    source = compile_text(SPEC, "rows.ein", target).source
    start = source.index("def row_gauss_newton(")
    body = source[start : source.index("\ndef ", start)]
    assert "one Jacobian for both" in " ".join(body.split())
    assert 'eingrad("Zi%Zj->Zij")' in body  # the first pair's Jacobian
    assert 'eingrad("Zi%Zk->Zik")' not in body  # and no second one


def test_independent_beside_the_ellipsis_says_it_is_not_used():
    result = compile_text('p(f, x) = eingrad("b...%b...j->b...j", f, x) where b independent\n', "p.ein")
    (note,) = result.notes
    assert note.message.startswith("'b independent' is not used here")
    assert note.pos.col == 20  # the spec
    assert "the full Jacobian" in " ".join(result.source.split())


def test_a_spec_that_leaves_no_capital_for_the_ellipsis_is_an_error():
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    params = ", ".join(f"a{c}" for c in letters)
    text = f'r(f, x, {params}) = eingrad("{",".join(letters)},...%...j->...j", {params}, f, x)\n'
    with pytest.raises(CompileErrors) as refused:
        compile_text(text, "r.ein")
    assert "leaves none to name '...' beside '%'" in refused.value.diagnostics[0].message


def test_the_note_is_only_for_the_ellipsis_beside_percent():
    source = compile_text('n(f, x, v) = eingrad("i%j,(...)->ij(...)", f, x, v)\n', "n.ein").source
    assert "beside '%'" not in source


# --- `...` on one side of '%': the one-pass lowerings, as for letters -----------------------------------------------

ONE_SIDE = """\
jvp_any(f, x, v) = eingrad("i%...,...->i", f, x, v)
vjp_any(z, f, x) = eingrad("...,...%j->j", z, f, x)
grad_any(f, x) = eingrad(",%...->...", f, x)
vjp2(z, y, f, x) = eingrad("...k,k,...k%j->j", z, y, f, x)
jvp2(f, x, v, u) = eingrad("i%...j,...,j->i", f, x, v, u)
ggn_any(f, w, v) = eingrad("...i%p,...i%q,q->p", f, w, f, w, v)
ggn_weights(f, w, v) = eingrad("b%...,b%...,...->...", f, w, f, w, v)
"""

LEAD = (2, 3)  # the axes `...` stands for
W = {
    name: RNG.normal(size=shape)
    for name, shape in (("A", (4, *LEAD)), ("B", (*LEAD, 5)), ("C", (*LEAD, 3, 5)), ("D", (4, *LEAD, 3)))
}


def _one_side(name, ns, tensor):
    """(the arguments, the expected value) of case `name`; f's constants in the framework `ns`."""
    einsum, tanh = ns.einsum, ns.tanh
    w = {k: ns.const(v) for k, v in W.items()}
    if name == "jvp_any":
        x, v = RNG.normal(size=LEAD), RNG.normal(size=LEAD)
        y = np.tanh(np.einsum("ab,iab->i", x, W["A"]))
        f = lambda t: tanh(einsum("ab,iab->i", t, w["A"]))  # noqa: E731
        return (f, tensor(x), tensor(v)), np.einsum("i,iab,ab->i", 1 - y**2, W["A"], v)
    if name == "vjp_any":
        z, x = RNG.normal(size=LEAD), RNG.normal(size=5)
        y = np.tanh(np.einsum("j,abj->ab", x, W["B"]))
        f = lambda t: tanh(einsum("j,abj->ab", t, w["B"]))  # noqa: E731
        return (tensor(z), f, tensor(x)), np.einsum("ab,ab,abj->j", z, 1 - y**2, W["B"])
    if name == "grad_any":
        x = RNG.normal(size=LEAD)
        f = lambda t: ns.sum(tanh(t)) * 3.0  # noqa: E731
        return (f, tensor(x)), 3.0 * (1 - np.tanh(x) ** 2)
    if name == "vjp2":
        z, yk, x = RNG.normal(size=(*LEAD, 3)), RNG.normal(size=3), RNG.normal(size=5)
        y = np.tanh(np.einsum("j,abkj->abk", x, W["C"]))
        f = lambda t: tanh(einsum("j,abkj->abk", t, w["C"]))  # noqa: E731
        expected = np.einsum("abk,k,abk,abkj->j", z, yk, 1 - y**2, W["C"])
        return (tensor(z), tensor(yk), f, tensor(x)), expected
    if name == "ggn_any":  # f: w[p] -> [..., i], J[..., i, p]
        w_, v = RNG.normal(size=5), RNG.normal(size=5)
        y = np.tanh(np.einsum("p,abip->abi", w_, W["C"]))
        f = lambda t: tanh(einsum("p,abip->abi", t, w["C"]))  # noqa: E731
        jac = (1 - y**2)[..., None] * W["C"]
        return (f, tensor(w_), tensor(v)), np.einsum("abip,abiq,q->p", jac, jac, v)
    if name == "ggn_weights":  # f: w[...] -> [b], J[b, ...]; one `...`: elementwise in it, not Jᵀ(J v)
        w_, v = RNG.normal(size=LEAD), RNG.normal(size=LEAD)
        y = np.tanh(np.einsum("ab,iab->i", w_, W["A"]))
        f = lambda t: tanh(einsum("ab,iab->i", t, w["A"]))  # noqa: E731
        jac = (1 - y**2)[:, None, None] * W["A"]
        return (f, tensor(w_), tensor(v)), np.einsum("iab,iab,ab->ab", jac, jac, v)
    x, v, u = RNG.normal(size=(*LEAD, 3)), RNG.normal(size=LEAD), RNG.normal(size=3)
    y = np.tanh(np.einsum("abj,iabj->i", x, W["D"]))
    f = lambda t: tanh(einsum("abj,iabj->i", t, w["D"]))  # noqa: E731
    return (f, tensor(x), tensor(v), tensor(u)), np.einsum("i,iabj,ab,j->i", 1 - y**2, W["D"], v, u)


def _ops(target):
    if target == "tensorflow":
        tf = pytest.importorskip("tensorflow")
        ns = types.SimpleNamespace(einsum=tf.einsum, tanh=tf.tanh, sum=tf.reduce_sum)
        ns.const = lambda a: tf.constant(a, tf.float64)
        return ns, ns.const, lambda t: t.numpy()
    if target == "torch":
        torch = pytest.importorskip("torch")
        ns = types.SimpleNamespace(einsum=torch.einsum, tanh=torch.tanh, sum=torch.sum)
        ns.const = lambda a: torch.tensor(a, dtype=torch.float64)
        return ns, ns.const, lambda t: t.detach().numpy()
    jnp = pytest.importorskip("jax.numpy")
    ns = types.SimpleNamespace(einsum=jnp.einsum, tanh=jnp.tanh, sum=jnp.sum)
    ns.const = lambda a: jnp.asarray(a, jnp.float64)
    return ns, ns.const, np.asarray


@pytest.mark.parametrize("name", ["jvp_any", "vjp_any", "grad_any", "vjp2", "jvp2", "ggn_any", "ggn_weights"])
@pytest.mark.parametrize("target,mode", MODES)
def test_the_ellipsis_on_one_side_is_one_pass(target, mode, name):
    """As for letters: a VJP, a JVP, a gradient, a JVP then a VJP; numerically against closed forms."""
    with _x64(target):
        ns, tensor, to_numpy = _ops(target)
        module, result = compile_and_import(ONE_SIDE, "one_side.ein", target)
        fn = getattr(module, name)
        doc = " ".join(fn.__doc__.split())
        if name != "ggn_weights":  # its `...` is shared by both variable sides: one Jacobian, then an einsum
            assert "the Jacobian is never built" in doc or "no Jacobian is built" in doc, doc
        args, expected = _one_side(name, ns, tensor)
        if mode == "tf.function":
            import tensorflow as tf

            out = tf.function(lambda *a: fn(*args))()
        elif mode == "jit":
            import jax

            arrays = [k for k, a in enumerate(args) if not callable(a)]

            def call(*ts):
                full = list(args)
                for k, t in zip(arrays, ts):
                    full[k] = t
                return fn(*full)

            out = jax.jit(call)(*[args[k] for k in arrays])
        else:
            out = fn(*args)
        np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("target", ["tensorflow", "torch", "jax"])
def test_a_one_sided_ellipsis_checks_the_tangent_against_the_variable(target):
    with _x64(target):
        ns, tensor, _ = _ops(target)
        module = compile_and_import(ONE_SIDE, "one_side.ein", target)[0]
        (f, x, v), _ = _one_side("jvp_any", ns, tensor)
        with pytest.raises(ValueError, match=r"^jvp_any: composite 'Z'"):
            module.jvp_any(f, x, tensor(RNG.normal(size=(3, 2))))
