"""The run-time helpers of generated JAX modules; einigc copies the ones a module calls into it, by source.

Each top-level definition is copied as it stands here, with the comments
right above it, so each must read well on its own in a generated module: no
names from this module but other top-level definitions and the imports below
(`functools`, `jax`, `jnp`, and what the axis rules bring: `math`). The
definitions imported from einigc.targets.axis_rules and
einigc.targets.semiring_rules are copied in place of the imports.
"""

import functools

import jax
import jax.numpy as jnp

from einigc.targets.axis_rules import _check_shapes, _static_sizes  # noqa: F401
from einigc.targets.semiring_rules import _block_length, _block_shapes, _SemiringLayout  # noqa: F401


def _check_axes(function, spec, operands, sizes=None):
    # Every operand is checked against its part of `spec` ("bij,(ij)k"), by
    # the rules of _check_shapes: under jax.jit once per trace, on the
    # static shapes. Arrays and scalars are taken and numpy arrays converted,
    # as jnp.einsum takes them; jax promotes mixed dtypes in every
    # operation, so they are no error here.
    names = [name for name, _ in operands]
    arrays = [_operand_array(function, name, value) for name, value in operands]
    _check_shapes(function, spec, names, [array.shape for array in arrays], sizes)
    return arrays


def _operand_array(function, name, value):
    # jax arrays (tracers too) as they are; what jnp.einsum converts
    # through jnp.asarray; a list, which it refuses, named here.
    if isinstance(value, jax.Array):
        return value
    if isinstance(value, (list, tuple)):
        raise TypeError(
            f"{function}: operand '{name}' is not an array: jax takes arrays and "
            f"scalars, got {type(value).__name__} (convert it with jnp.asarray)"
        )
    try:
        return jnp.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{function}: operand '{name}' is not an array: {error}"
        ) from None


# Compiled once per shape, dtype and spec, also when called eagerly (inside
# jax.jit it is inlined): the gather of one jnp index expression eagerly
# takes ~0.8 ms of dispatch, compiled ~11 µs.
@functools.partial(jax.jit, static_argnums=(1, 2))
def _diagonal(array, axes, result_axes):
    # The entries of `array` (letters `axes`) where repeated letters agree,
    # laid out as `result_axes`: one gather, indexed by a range per result
    # letter. Measured under jax.jit on a 64x32x32x64 "ijji->ij": 11 µs,
    # against 23 ms for jnp.einsum, which multiplies by an identity mask.
    return array[_diagonal_index(dict(zip(axes, array.shape)), axes, result_axes)]


def _diagonal_index(size, axes, result_axes):
    # For each input axis, the range of its letter along that letter's
    # result axis: numpy indexing broadcasts them to the result's layout.
    index = []
    for letter in axes:
        shape = [1] * len(result_axes)
        shape[result_axes.index(letter)] = size[letter]
        index.append(jnp.arange(size[letter]).reshape(shape))
    return tuple(index)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _induced_diagonal(array, axes, result_axes):
    # `array` (distinct letters `axes`) placed where the repeated letters of
    # `result_axes` agree, zeros elsewhere: one scatter into zeros, at the
    # positions _diagonal gathers from.
    size = dict(zip(axes, array.shape))
    result = jnp.zeros([size[letter] for letter in result_axes], array.dtype)
    values = jnp.transpose(
        array, [axes.index(letter) for letter in _letters(result_axes)]
    )
    return result.at[_diagonal_index(size, result_axes, _letters(result_axes))].set(
        values
    )


def _letters(axes):
    # The distinct letters of `axes`, in the order they first appear.
    return "".join(dict.fromkeys(axes))


def _require_bool(array, function, operand):
    # eincount and einany count or test boolean products: another dtype is a mistake.
    if array.dtype != jnp.bool_:
        raise TypeError(
            f"{function}: operand '{operand}' must be boolean, got {array.dtype.name}"
        )


def _jacobian(function, primal):
    # The full Jacobian J[a, b] = d a / d b. jax's derivatives are
    # holomorphic already; jax.jacrev takes complex inputs only when told.
    # (A VJP needs no helper: jax.vjp is holomorphic too.)
    return jax.jacrev(function, holomorphic=jnp.iscomplexobj(primal))(primal)


def _gradient(function, primal, cotangent=None):
    # cotangent^T J of `function` at `primal`, J[a, b] = d a / d b, by one
    # reverse pass (jax.vjp, holomorphic for complex dtypes: no conjugate);
    # without a cotangent, the gradient of the sum of the value's entries.
    value, pullback = jax.vjp(function, primal)
    if cotangent is None:
        cotangent = jnp.ones_like(value)
    (gradient,) = pullback(cotangent)
    return gradient


def _require_floating(array, function, operand, builtin):
    # einmax, einmin and einlogsumexp add operands and reduce by max, min or
    # log-sum-exp, from -inf or +inf: integers and booleans have neither.
    if not jnp.issubdtype(array.dtype, jnp.floating):
        raise TypeError(
            f"{function}: {builtin} needs floating operands; "
            f"operand '{operand}' is {array.dtype.name}"
        )


def _semiring_zero(kind):
    # The identity of the semiring's reduction: -inf for max and logsumexp,
    # +inf for min.
    return jnp.inf if kind == "min" else -jnp.inf


@functools.partial(jax.jit, static_argnums=(0, 2, 3))
def _semiring_induced_diagonal(kind, array, axes, result_axes):
    # _induced_diagonal with the semiring's zero off the diagonal.
    size = dict(zip(axes, array.shape))
    shape = [size[letter] for letter in result_axes]
    result = jnp.full(shape, _semiring_zero(kind), array.dtype)
    values = jnp.transpose(
        array, [axes.index(letter) for letter in _letters(result_axes)]
    )
    return result.at[_diagonal_index(size, result_axes, _letters(result_axes))].set(
        values
    )


def _semiring_reduce(kind, array, axis, keepdims=False):
    # jnp.max, jnp.min (from the semiring's zero: an empty axis gives it) or
    # jax.nn.logsumexp (-inf for an empty axis or a slice of -inf) along
    # `axis`. Ties share the gradient evenly.
    if kind == "logsumexp":
        return jax.nn.logsumexp(array, axis=axis, keepdims=keepdims)
    reduce = jnp.max if kind == "max" else jnp.min
    return reduce(array, axis=axis, keepdims=keepdims, initial=_semiring_zero(kind))


def _semiring_operands(kind, layout, a, b):
    # `a` and `b` with the axes each has alone reduced (_SemiringLayout).
    return [
        _semiring_reduce(kind, array, axes) if axes else array
        for array, axes in zip((a, b), layout.alone)
    ]


def _semiring_align(a, b, alignments):
    # `a` and `b` moved and given size-1 axes as `alignments` say
    # (_alignment): so that `+` broadcasts them.
    aligned = []
    for array, (moved, units) in zip((a, b), alignments):
        if moved:
            array = jnp.einsum(moved, array)
        for axis in units:
            array = jnp.expand_dims(array, axis)
        aligned.append(array)
    return aligned


def _semiring_result(array, layout):
    # The broadcast sum's result laid out as the pair's.
    if layout.result_equation is None:
        return array
    return jnp.einsum(layout.result_equation, array)


def _semiring_pair(kind, equation, a, b, block):
    # The (max, +) or (min, +) product of `a` and `b` laid out by `equation`
    # ("ij,jk->ik"): the maximum (minimum) over the contracted letters of
    # a + b. No kernel computes it, and the broadcast a + b may be huge
    # (32 GiB for two 2048x2048 float32 matrices): see _semiring_blocks.
    layout = _SemiringLayout(equation)
    a, b = _semiring_operands(kind, layout, a, b)
    a, b = _semiring_align(a, b, layout.aligned)
    if not layout.contracted:
        return _semiring_result(a + b, layout)
    return _semiring_result(_semiring_blocks(kind, a, b, layout.contracted, block), layout)


def _semiring_fold(kind, partial, a, b):
    # `partial` with the reduction of one block of a + b (leading axis) folded in.
    part = _semiring_reduce(kind, a + b, 0)
    if kind == "max":
        return jnp.maximum(partial, part)
    if kind == "min":
        return jnp.minimum(partial, part)
    return jnp.logaddexp(partial, part)


def _semiring_blocks(kind, a, b, count, block):
    # max, min or log-sum-exp of a + b over their last `count` axes (aligned
    # operands), as one axis taken in blocks whose broadcast holds at most
    # `block` elements beside the result, each folded into the result. That
    # axis goes first: reducing a leading axis is the fast case. Shapes are
    # static, so the block count is too: the whole blocks run as one
    # jax.lax.scan (one loop in the compiled program, not one copy of its
    # body per block), the rest after it.
    a_shape, b_shape = _block_shapes(a.shape, b.shape, count)
    a = jnp.moveaxis(jnp.reshape(a, a_shape), -1, 0)
    b = jnp.moveaxis(jnp.reshape(b, b_shape), -1, 0)
    shape = jnp.broadcast_shapes(a.shape[1:], b.shape[1:])
    total = a.shape[0]
    step = _block_length(block, shape)
    if total <= step:  # one block: no fold
        return _semiring_reduce(kind, a + b, 0)
    partial = jnp.full(shape, _semiring_zero(kind), jnp.result_type(a, b))
    whole = total // step * step

    def fold(partial, blocks):
        return _semiring_fold(kind, partial, *blocks), None

    blocks = [jnp.reshape(x[:whole], (total // step, step) + x.shape[1:]) for x in (a, b)]
    partial, _ = jax.lax.scan(fold, partial, tuple(blocks))
    if whole < total:
        partial = _semiring_fold(kind, partial, a[whole:], b[whole:])
    return partial


def _logsumexp_pair(equation, a, b, block):
    # log Σ exp(a + b) over the contracted letters of `equation`, on the
    # matrix-product path: each operand shifted by its maximum over those
    # letters, exp, jnp.einsum, log, the shifts added back (the shifts are
    # constants to the gradient: they cancel). Exact while each result's
    # largest term is at least tiny / eps times the product of the shifts
    # (2**-103 in float32, 2**-970 in float64): the product underflows
    # below that. The entries that fall below it, true -inf ones among
    # them, are computed again in blocks (_semiring_blocks), in a
    # jax.lax.cond that runs them only when some entry needs it.
    layout = _SemiringLayout(equation)
    a, b = _semiring_operands("logsumexp", layout, a, b)
    if not layout.contracted:
        a, b = _semiring_align(a, b, layout.aligned)
        return _semiring_result(a + b, layout)
    scaled, shifts = [], []
    for array, axes in zip((a, b), layout.shared_axes):
        shift = jax.lax.stop_gradient(_semiring_reduce("max", array, axes, keepdims=True))
        shift = jnp.where(jnp.isfinite(shift), shift, 0)
        scaled.append(jnp.exp(array - shift))
        shifts.append(jnp.squeeze(shift, axes))
    shifts = _semiring_align(*shifts, layout.shift_aligned)
    product = jnp.einsum(layout.product, *scaled)
    info = jnp.finfo(product.dtype)
    low = product < float(info.tiny) / float(info.eps)
    # Where the product is low its log is not used: 1 keeps its gradient finite.
    fast = jnp.log(jnp.where(low, 1, product)) + shifts[0] + shifts[1]

    def blocked():
        aligned = _semiring_align(a, b, layout.aligned)
        blocks = _semiring_blocks("logsumexp", *aligned, layout.contracted, block)
        return jnp.where(low, blocks, fast)

    summed = jax.lax.cond(jnp.any(low), blocked, lambda: fast)
    return _semiring_result(summed, layout)
