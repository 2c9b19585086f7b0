"""The run-time helpers of generated NumPy modules; einigc copies the ones a module calls into it, by source.

Each top-level definition is copied as it stands here, with the comments
right above it, so each must read well on its own in a generated module:
no names from this module but other top-level definitions and the imports
below (`np`, and what the axis rules bring: `math`). The definitions
imported from einigc.targets.axis_rules are copied in place of the import.
"""

import numpy as np

from einigc.targets.axis_rules import _check_shapes, _static_sizes  # noqa: F401


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
