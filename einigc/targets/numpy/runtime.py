"""The run-time helpers of generated NumPy modules; einigc copies the ones a module calls into it, by source.

Each top-level definition is copied as it stands here, with the comments
right above it, so each must read well on its own in a generated module: no
names from this module but other top-level definitions and the imports below
(`np`, and what the axis rules bring: `math`). The definitions imported from
einigc.targets.axis_rules and einigc.targets.semiring_rules are copied in
place of the imports.
"""

import numpy as np

from einigc.targets.axis_rules import _check_shapes, _static_sizes  # noqa: F401
from einigc.targets.semiring_rules import _block_length, _block_shapes, _SemiringLayout  # noqa: F401


def _check_axes(function, spec, operands, sizes=None):
    # Every operand is checked against its part of `spec` ("bij,(ij)k"), by
    # the rules of _check_shapes, and returned as an array: lists, numbers
    # and array-likes converted as np.einsum converts them. numpy promotes
    # mixed dtypes in every operation, so they are no error here.
    names = [name for name, _ in operands]
    arrays = [_operand_array(function, name, value) for name, value in operands]
    _check_shapes(function, spec, names, [array.shape for array in arrays], sizes)
    return arrays


def _operand_array(function, name, value):
    # A plain ndarray, with no copy: subclasses (np.matrix, masked arrays)
    # as the base class, which np.einsum also returns, since their own
    # operators mean other things. Numbers only: np.einsum refuses strings
    # and objects too, in messages that name neither function nor operand.
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{function}: operand '{name}' is not an array: {error}"
        ) from None
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"{function}: operand '{name}' is not an array of numbers: "
            f"it converts to dtype {array.dtype}"
        )
    return array


def _diagonal(array, axes, result_axes):
    # The entries of `array` (letters `axes`) where repeated letters agree,
    # laid out as `result_axes`: np.einsum of one operand without a sum
    # returns a strided view, no copy (measured 1.0 µs for a 64x32x32x64
    # "ijji->ij", against 1.7 µs for np.ndarray on the strides and 5 µs
    # for as_strided). A view, read-only as np.diagonal's: writing through
    # it would change the caller's operand.
    view = np.einsum(f"{axes}->{result_axes}", array)
    view.flags.writeable = False
    return view


def _induced_diagonal(array, axes, result_axes):
    # `array` (distinct letters `axes`) placed where the repeated letters of
    # `result_axes` agree, zeros elsewhere: written through the diagonal's
    # view of the zeros.
    size = dict(zip(axes, array.shape))
    result = np.zeros([size[letter] for letter in result_axes], array.dtype)
    np.einsum(f"{result_axes}->{axes}", result)[...] = array
    return result


def _require_bool(array, function, operand):
    # eincount and einany count or test boolean products: another dtype is a mistake.
    if array.dtype != np.bool_:
        raise TypeError(
            f"{function}: operand '{operand}' must be boolean, got {array.dtype.name}"
        )


def _require_floating(array, function, operand, builtin):
    # einmax, einmin and einlogsumexp add operands and reduce by max, min or
    # log-sum-exp, from -inf or +inf: integers and booleans have neither.
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"{function}: {builtin} needs floating operands; "
            f"operand '{operand}' is {array.dtype.name}"
        )


def _semiring_zero(kind):
    # The identity of the semiring's reduction: -inf for max and logsumexp,
    # +inf for min.
    return np.inf if kind == "min" else -np.inf


def _semiring_induced_diagonal(kind, array, axes, result_axes):
    # _induced_diagonal with the semiring's zero off the diagonal.
    size = dict(zip(axes, array.shape))
    shape = [size[letter] for letter in result_axes]
    result = np.full(shape, _semiring_zero(kind), array.dtype)
    np.einsum(f"{result_axes}->{axes}", result)[...] = array
    return result


def _logsumexp(array, axis, keepdims=False):
    # log Σ exp along `axis`, shifted by the maximum so that no exp
    # overflows; a slice that is all -inf (or empty) gives -inf.
    shift = np.max(array, axis=axis, keepdims=True, initial=-np.inf)
    shift = np.where(np.isfinite(shift), shift, 0).astype(array.dtype)
    with np.errstate(divide="ignore"):
        total = np.log(np.sum(np.exp(array - shift), axis=axis, keepdims=True))
    result = total + shift
    return result if keepdims else np.squeeze(result, axis)


def _semiring_reduce(kind, array, axis, keepdims=False):
    # np.max, np.min (from the semiring's zero: an empty axis gives it) or
    # _logsumexp along `axis`.
    if kind == "logsumexp":
        return _logsumexp(array, axis, keepdims)
    reduce = np.max if kind == "max" else np.min
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
            array = np.einsum(moved, array)
        for axis in units:
            array = np.expand_dims(array, axis)
        aligned.append(array)
    return aligned


def _semiring_result(array, layout):
    # The broadcast sum's result laid out as the pair's.
    if layout.result_equation is None:
        return array
    return np.einsum(layout.result_equation, array)


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


def _semiring_blocks(kind, a, b, count, block):
    # max, min or log-sum-exp of a + b over their last `count` axes (aligned
    # operands), as one axis taken in blocks whose broadcast holds at most
    # `block` elements beside the result, each folded into the result. That
    # axis goes first (a view): reducing a leading axis is the fast case.
    a_shape, b_shape = _block_shapes(a.shape, b.shape, count)
    a = np.moveaxis(a.reshape(a_shape), -1, 0)
    b = np.moveaxis(b.reshape(b_shape), -1, 0)
    shape = np.broadcast_shapes(a.shape[1:], b.shape[1:])
    partial = np.full(shape, _semiring_zero(kind), np.result_type(a, b))
    step = _block_length(block, shape)
    for start in range(0, a.shape[0], step):
        part = _semiring_reduce(kind, a[start : start + step] + b[start : start + step], 0)
        if kind == "max":
            np.maximum(partial, part, out=partial)
        elif kind == "min":
            np.minimum(partial, part, out=partial)
        else:
            partial = _logsumexp(np.stack([partial, part]), 0)
    return partial


def _logsumexp_pair(equation, a, b, block):
    # log Σ exp(a + b) over the contracted letters of `equation`, on the
    # matrix-product path: each operand shifted by its maximum over those
    # letters, exp, np.einsum (BLAS through optimize=True), log, the shifts
    # added back. Exact while each result's largest term is at least
    # tiny / eps times the product of the shifts (2**-103 in float32,
    # 2**-970 in float64): the product underflows below that. The entries
    # that fall below it, true -inf ones among them, are computed again in
    # blocks (_semiring_blocks), only when some entry needs it.
    layout = _SemiringLayout(equation)
    a, b = _semiring_operands("logsumexp", layout, a, b)
    if not layout.contracted:
        a, b = _semiring_align(a, b, layout.aligned)
        return _semiring_result(a + b, layout)
    scaled, shifts = [], []
    for array, axes in zip((a, b), layout.shared_axes):
        shift = np.max(array, axis=axes, keepdims=True, initial=-np.inf)
        shift = np.where(np.isfinite(shift), shift, 0).astype(array.dtype)
        scaled.append(np.exp(array - shift))
        shifts.append(np.squeeze(shift, axes))
    shifts = _semiring_align(*shifts, layout.shift_aligned)
    product = np.asarray(np.einsum(layout.product, *scaled, optimize=True))
    info = np.finfo(product.dtype)
    low = product < info.tiny / info.eps
    summed = np.log(np.where(low, 1, product)) + shifts[0] + shifts[1]
    if low.any():
        aligned = _semiring_align(a, b, layout.aligned)
        blocks = _semiring_blocks("logsumexp", *aligned, layout.contracted, block)
        summed = np.where(low, blocks, summed)
    return _semiring_result(summed, layout)
