"""The run-time helpers of generated PyTorch modules; einigc copies the ones a module calls into it, by source.

Each top-level definition is copied as it stands here, with the comments
right above it, so each must read well on its own in a generated module: no
names from this module but other top-level definitions and the imports below
(`torch`, and what the axis rules bring: `math`). The definitions imported
from einigc.targets.axis_rules and einigc.targets.semiring_rules are copied
in place of the imports.
"""

import torch

from einigc.targets.axis_rules import _check_shapes, _static_sizes  # noqa: F401
from einigc.targets.semiring_rules import _block_length, _block_shapes, _SemiringLayout  # noqa: F401


def _check_axes(function, spec, operands, sizes=None):
    # Every operand is checked against its part of `spec` ("bij,(ij)k"), by
    # the rules of _check_shapes: eagerly on ints, under torch.compile on
    # SymInts, whose comparisons become guards (nothing is remembered
    # then: SymInts do not hash). Dense tensors of one dtype only, as
    # torch.einsum takes them.
    names = [name for name, _ in operands]
    tensors = [_operand_tensor(function, name, value) for name, value in operands]
    if len({tensor.dtype for tensor in tensors}) > 1:
        dtypes = ", ".join(
            f"'{name}' {_dtype_name(t.dtype)}" for name, t in zip(names, tensors)
        )
        raise TypeError(f"{function}: the operands must have one dtype, got {dtypes}")
    shapes = [tuple(tensor.shape) for tensor in tensors]
    remember = not torch.compiler.is_compiling()
    _check_shapes(function, spec, names, shapes, sizes, remember)
    return tensors


def _operand_tensor(function, name, value):
    # torch.einsum converts nothing: a list, number or numpy array is a
    # mistake best named here, as is a sparse tensor.
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{function}: operand '{name}' is not a tensor: expected a torch.Tensor, "
            f"got {type(value).__name__} (convert it with torch.as_tensor)"
        )
    if value.layout != torch.strided:
        raise TypeError(
            f"{function}: operand '{name}' is a {value.layout} tensor; it takes "
            "dense tensors (convert it with .to_dense())"
        )
    return value


def _dtype_name(dtype):
    # "float32" for torch.float32: the dtype's name without its module.
    return str(dtype).rpartition(".")[2]


def _diagonal(tensor, axes, result_axes):
    # The entries of `tensor` (letters `axes`) where repeated letters agree,
    # laid out as `result_axes`: a view, no copy. Eagerly a strided view: a
    # result axis steps by the sum of the strides of the axes that share
    # its letter (measured on a 64x32x32x64 "ijji->ij": 2.9 µs, against
    # 6.9 µs by torch.diagonal and 7.0 µs by torch.einsum). torch.compile
    # breaks its graph at the storage_offset that needs: torch.diagonal then.
    if torch.compiler.is_compiling():
        return _diagonal_views(tensor, axes, result_axes)
    size, stride = {}, {}
    for letter, length, step in zip(axes, tensor.shape, tensor.stride()):
        size[letter] = length
        stride[letter] = stride.get(letter, 0) + step
    return tensor.as_strided(
        [size[letter] for letter in result_axes],
        [stride[letter] for letter in result_axes],
        tensor.storage_offset(),
    )


def _diagonal_views(tensor, axes, result_axes):
    # The diagonal by torch.diagonal on two axes of a repeated letter at a
    # time (it puts their diagonal last), then a permute.
    letters = list(axes)
    repeated = [letter for letter in letters if letters.count(letter) > 1]
    while repeated:
        first = letters.index(repeated[0])
        second = letters.index(repeated[0], first + 1)
        tensor = torch.diagonal(tensor, 0, first, second)
        letters = [l for k, l in enumerate(letters) if k not in (first, second)]
        letters.append(repeated[0])
        repeated = [letter for letter in letters if letters.count(letter) > 1]
    return tensor.permute([letters.index(letter) for letter in result_axes])


def _induced_diagonal(tensor, axes, result_axes):
    # `tensor` (distinct letters `axes`) placed where the repeated letters of
    # `result_axes` agree, zeros elsewhere: copied into the diagonal's view
    # of fresh zeros (the zeros are most of its time). Measured on 64x32 ->
    # "ijji": 0.29 ms, against 4.1 ms for torch.as_strided_scatter, which
    # vmap (torch.func) cannot batch; autograd and vmap take the copy.
    size = dict(zip(axes, tensor.shape))
    result = tensor.new_zeros([size[letter] for letter in result_axes])
    _diagonal(result, result_axes, axes).copy_(tensor)
    return result


def _require_bool(tensor, function, operand):
    # eincount and einany count or test boolean products: another dtype is a mistake.
    if tensor.dtype != torch.bool:
        raise TypeError(
            f"{function}: operand '{operand}' must be boolean, "
            f"got {_dtype_name(tensor.dtype)}"
        )


def _jacobian(function, primal):
    # The full Jacobian J[a, b] = d a / d b (holomorphic for complex dtypes):
    # one reverse pass per entry of the value, batched by vmap. Not
    # torch.func.jacrev, which refuses complex inputs; the basis is real,
    # so only the rows are conjugated.
    value, pullback = torch.func.vjp(function, primal)
    size = value.numel()
    basis = torch.eye(size, dtype=value.dtype, device=value.device)
    (rows,) = torch.func.vmap(pullback)(basis.reshape(size, *value.shape))
    rows = rows.conj_physical() if primal.is_complex() else rows
    # The shape as one tuple: () for a scalar by a scalar.
    return rows.reshape((*value.shape, *primal.shape))


def _gradient(function, primal, cotangent=None):
    # cotangent^T J of `function` at `primal`, J[a, b] = d a / d b, by one
    # reverse pass; without a cotangent, the gradient of the sum of the
    # value's entries. PyTorch's pullback gives the conjugate for complex
    # dtypes: conjugating in and out makes it holomorphic (d(z^2)/dz = 2z).
    # Out of place: a lazy conjugate, which .numpy() refuses, is no result to give.
    value, pullback = torch.func.vjp(function, primal)
    if cotangent is None:
        cotangent = torch.ones_like(value)
    complex_ = primal.is_complex()
    (gradient,) = pullback(cotangent.conj() if complex_ else cotangent)
    return gradient.conj_physical() if complex_ else gradient


def _jacobian_forward(function, primal):
    # The full Jacobian J[a, b] = d a / d b by one forward pass per entry of
    # `primal` (J times each basis vector, batched by vmap): for fewer
    # entries in the primal than in the value. Forward mode is holomorphic
    # for complex dtypes as it stands; not torch.func.jacfwd, which refuses
    # complex inputs.
    size = primal.numel()
    basis = torch.eye(size, dtype=primal.dtype, device=primal.device)

    def column(tangent):
        return torch.func.jvp(function, (primal,), (tangent,))[1]

    columns = torch.func.vmap(column)(basis.reshape(size, *primal.shape))
    return columns.movedim(0, -1).reshape((*columns.shape[1:], *primal.shape))


def _vjp_of_jvp(function, primal, tangent):
    # J^T (J tangent) of `function` at `primal` (J[a, b] = d a / d b,
    # holomorphic for complex dtypes). Under torch.compile `function` is
    # evaluated once: one torch.func.vjp, and J tangent by the double-vjp
    # trick (the pullback c -> J^H c is linear in c; its own pullback at
    # `tangent` is J tangent), measured 0.60-0.72x a jvp then a vjp.
    # Eagerly the jvp then the vjp (two evaluations) measured faster:
    # the double vjp took 1.17-1.26x.
    if torch.compiler.is_compiling():
        value, pullback = torch.func.vjp(function, primal)
        _, pullback_of_pullback = torch.func.vjp(pullback, torch.zeros_like(value))
        (jvp,) = pullback_of_pullback((tangent,))
    else:
        jvp = torch.func.jvp(function, (primal,), (tangent,))[1]
        _, pullback = torch.func.vjp(function, primal)
    complex_ = primal.is_complex()
    (result,) = pullback(jvp.conj() if complex_ else jvp)
    return result.conj_physical() if complex_ else result


def _require_floating(tensor, function, operand, builtin):
    # einmax, einmin and einlogsumexp add operands and reduce by max, min or
    # log-sum-exp, from -inf or +inf: integers and booleans have neither.
    if not tensor.is_floating_point():
        raise TypeError(
            f"{function}: {builtin} needs floating operands; "
            f"operand '{operand}' is {_dtype_name(tensor.dtype)}"
        )


def _semiring_zero(kind):
    # The identity of the semiring's reduction: -inf for max and logsumexp,
    # +inf for min.
    return math.inf if kind == "min" else -math.inf


def _semiring_induced_diagonal(kind, tensor, axes, result_axes):
    # _induced_diagonal with the semiring's zero off the diagonal.
    size = dict(zip(axes, tensor.shape))
    result = tensor.new_full([size[letter] for letter in result_axes], _semiring_zero(kind))
    _diagonal(result, result_axes, axes).copy_(tensor)
    return result


def _semiring_reduce(kind, tensor, dim, keepdim=False):
    # torch.amax, torch.amin or torch.logsumexp along `dim`. amax and amin
    # refuse an empty axis, which gives the semiring's zero (logsumexp's
    # -inf already). Ties share the gradient evenly.
    if kind == "logsumexp":
        return torch.logsumexp(tensor, dim, keepdim)
    dims = (dim,) if isinstance(dim, int) else dim
    if any(tensor.shape[axis] == 0 for axis in dims):
        # The sum over the empty axes (zeros) plus the semiring's zero: the
        # result stays in the autograd graph, with zero gradients, as an
        # einsum over an empty axis does.
        return torch.sum(tensor, dims, keepdim) + _semiring_zero(kind)
    reduce = torch.amax if kind == "max" else torch.amin
    return reduce(tensor, dim, keepdim)


def _semiring_operands(kind, layout, a, b):
    # `a` and `b` with the axes each has alone reduced (_SemiringLayout).
    return [
        _semiring_reduce(kind, tensor, dims) if dims else tensor
        for tensor, dims in zip((a, b), layout.alone)
    ]


def _semiring_align(a, b, alignments):
    # `a` and `b` moved and given size-1 axes as `alignments` say
    # (_alignment): so that `+` broadcasts them.
    aligned = []
    for tensor, (moved, units) in zip((a, b), alignments):
        if moved:
            tensor = torch.einsum(moved, tensor)
        for dim in units:
            tensor = tensor.unsqueeze(dim)
        aligned.append(tensor)
    return aligned


def _semiring_result(tensor, layout):
    # The broadcast sum's result laid out as the pair's.
    if layout.result_equation is None:
        return tensor
    return torch.einsum(layout.result_equation, tensor)


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
    # Gradients of max and min: ties within a block share it evenly, and so
    # do ties between blocks (torch.maximum, torch.minimum).
    a_shape, b_shape = _block_shapes(a.shape, b.shape, count)
    a, b = a.reshape(a_shape).movedim(-1, 0), b.reshape(b_shape).movedim(-1, 0)
    shape = torch.broadcast_shapes(a.shape[1:], b.shape[1:])
    step = _block_length(block, shape)
    if a.shape[0] <= step:  # one block: no fold
        return _semiring_reduce(kind, a + b, 0)
    partial = a.new_full(shape, _semiring_zero(kind))
    for start in range(0, a.shape[0], step):
        part = _semiring_reduce(kind, a[start : start + step] + b[start : start + step], 0)
        if kind == "max":
            partial = torch.maximum(partial, part)
        elif kind == "min":
            partial = torch.minimum(partial, part)
        else:
            partial = torch.logaddexp(partial, part)
    return partial


def _logsumexp_pair(equation, a, b, block):
    # log Σ exp(a + b) over the contracted letters of `equation`, on the
    # matrix-product path: each operand shifted by its maximum over those
    # letters, exp, torch.einsum, log, the shifts added back (the shifts
    # are constants to the gradient: they cancel). Exact while each
    # result's largest term is at least tiny / eps times the product of
    # the shifts (2**-103 in float32, 2**-970 in float64): the product
    # underflows below that. The entries that fall below it, true -inf ones
    # among them, are computed again in blocks (_semiring_blocks), only when
    # some entry needs it.
    layout = _SemiringLayout(equation)
    a, b = _semiring_operands("logsumexp", layout, a, b)
    if not layout.contracted:
        a, b = _semiring_align(a, b, layout.aligned)
        return _semiring_result(a + b, layout)
    scaled, shifts = [], []
    for tensor, dims in zip((a, b), layout.shared_axes):
        shift = _semiring_reduce("max", tensor.detach(), dims, keepdim=True)
        shift = torch.where(torch.isfinite(shift), shift, 0)
        scaled.append(torch.exp(tensor - shift))
        shifts.append(shift.squeeze(dims))
    shifts = _semiring_align(*shifts, layout.shift_aligned)
    product = torch.einsum(layout.product, *scaled)
    info = torch.finfo(product.dtype)
    low = product < info.tiny / info.eps
    # Where the product is low its log is not used: 1 keeps its gradient finite.
    fast = torch.log(torch.where(low, 1, product)) + shifts[0] + shifts[1]

    def blocked():
        aligned = _semiring_align(a, b, layout.aligned)
        blocks = _semiring_blocks("logsumexp", *aligned, layout.contracted, block)
        return torch.where(low, blocks, fast)

    # Under torch.compile an `if` on a tensor breaks the graph: torch.cond
    # traces both branches (the other one a copy: no branch may return a
    # tensor from outside it) and runs one.
    if torch.compiler.is_compiling():
        summed = torch.cond(low.any(), blocked, lambda: fast.clone())
    else:
        summed = blocked() if low.any() else fast
    return _semiring_result(summed, layout)
