"""The run-time helpers of generated JAX modules; einigc copies the ones a module calls into it, by source.

Each top-level definition is copied as it stands here, with the comments
right above it, so each must read well on its own in a generated module:
no names from this module but other top-level definitions and the imports
below (`functools`, `jax`, `jnp`, and what the axis rules bring: `math`).
The definitions imported from einigc.targets.axis_rules are copied in place
of the import.
"""

import functools

import jax
import jax.numpy as jnp

from einigc.targets.axis_rules import _check_shapes, _static_sizes  # noqa: F401


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
