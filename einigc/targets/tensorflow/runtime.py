"""The run-time helpers of generated TensorFlow modules; einigc copies the ones a module calls into it, by source.

Each top-level definition is copied as it stands here, with the comments
right above it, so each must read well on its own in a generated module:
no names from this module but other top-level definitions and the imports
below (`tf`, `functools`, `math`), which the generated module's header makes.
The definitions imported from einigc.targets.semiring_rules are copied in
place of the import.
"""

import functools
import math

import tensorflow as tf

from einigc.targets.semiring_rules import _SemiringLayout  # noqa: F401


def _check_axes(function, spec, operands, sizes=None, _passed=set()):
    # Every operand is checked against its part of `spec` ("bij,(ij)k"): its
    # rank; each named axis, composite and whole group across operands and
    # against the `where` sizes; `_` against 1; `...` for broadcasting; each
    # group against its members. Static sizes are compared here, in Python;
    # sizes unknown while tracing become conditions that the returned
    # tensors depend on. Static shapes and dtypes that passed are remembered
    # (at most 1,024), so an eager call with them only looks them up.
    tensors = [tensor for _, tensor in operands]
    if not all(isinstance(tensor, tf.Tensor) for tensor in tensors):
        tensors = _operand_tensors(function, operands)
    key = _shapes_key(function, spec, tensors)
    if key in _passed:
        return tensors
    names = [name for name, _ in operands]
    _operand_tensors(function, zip(names, tensors))  # one dtype, when all were tensors
    check = _AxisCheck(function, spec.split(","), sizes)
    check.operands(names, tensors)
    check.groups()
    if check.conditions:
        return _after_checks(check.conditions, tensors, check.fixed_ranks)
    # Sizes unknown while tracing are never remembered: assertions decide.
    if key is not None and all(None not in shape for shape, _ in key[2:]):
        if len(_passed) >= 1024:
            _passed.clear()
        _passed.add(key)
    return tensors


def _shapes_key(function, spec, tensors):
    # What the checks of these operands depend on; None for an unknown rank.
    # The `sizes` of _check_axes are not in it: a generated function passes
    # the same ones every call.
    try:
        return (function, spec) + tuple((tuple(t.shape), t.dtype) for t in tensors)
    except ValueError:  # an unknown rank
        return None


def _operand_tensors(function, operands):
    # What tf.einsum accepts: tensors and variables as they are; numpy
    # arrays, lists and numbers converted to the dtype of the tensors
    # beside them, as tf.einsum converts them. All share one dtype.
    operands = list(operands)
    dense = (tf.Tensor, tf.Variable)
    dtype = next(
        (value.dtype for _, value in operands if isinstance(value, dense)), None
    )
    tensors = []
    for name, value in operands:
        if isinstance(value, (tf.RaggedTensor, tf.SparseTensor)):
            raise TypeError(
                f"{function}: operand '{name}' is a {type(value).__name__}; it takes "
                "dense tensors (convert it with .to_tensor() or tf.sparse.to_dense)"
            )
        if not isinstance(value, dense):
            try:
                value = tf.convert_to_tensor(value, dtype=dtype)
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"{function}: operand '{name}' is not a tensor: {error}"
                ) from None
            dtype = dtype or value.dtype
        tensors.append(value)
    if len({tensor.dtype.base_dtype for tensor in tensors}) > 1:
        dtypes = ", ".join(
            f"'{name}' {t.dtype.name}" for (name, _), t in zip(operands, tensors)
        )
        raise TypeError(f"{function}: the operands must have one dtype, got {dtypes}")
    return tensors


def _after_checks(conditions, tensors, fixed_ranks):
    # The checked tensors' shapes are computed from the assertions' outcome.
    # Grappler, which knows the input shapes when it prepares a call, would
    # otherwise let a TensorFlow op fail on its shapes before any assertion
    # ran (it did with a control dependency alone). XLA drops assertions.
    done = []
    for condition, message in conditions:
        with tf.control_dependencies(done):
            done = [tf.raw_ops.Assert(condition=condition, data=[message])]
    with tf.control_dependencies(done):
        passed = tf.identity(
            tf.reduce_all(tf.stack([condition for condition, _ in conditions]))
        )
    checked = {}
    for tensor, rank in zip(tensors, fixed_ranks):
        # A tensor given twice stays one tensor, so gradients see every use.
        if id(tensor) not in checked:
            # The whole tensor (no copy), in a size that only the passed
            # checks give: Grappler folds away reshapes and identities.
            shape = tf.shape(tensor)
            none = tf.zeros_like(shape)
            same = tf.slice(tensor, none, tf.where(passed, shape, none))
            # Known sizes stay known; a rank the spec fixes is known from here on.
            same.set_shape(tensor.shape if rank is None else [None] * rank)
            checked[id(tensor)] = same
    return [checked[id(tensor)] for tensor in tensors]


def _is_run(term):
    # A run of axes whose number the operand's rank gives: `...` or a
    # composite (a capital letter). A group is one axis.
    return term == "..." or "A" <= term <= "Z"


class _AxisSizes:
    # The sizes seen so far for each letter, composite, `...` and whole
    # group, with the operand they came from; the conditions that only the
    # run time can decide.

    def __init__(self, function, words, sizes):
        self.function = function
        self.words = words
        self.seen = {
            letter: (size, "`where`") for letter, size in (sizes or {}).items()
        }
        self.conditions = []
        self.fixed_ranks = []  # per operand: the rank its spec fixes, if unknown
        self.group_terms = []
        self.broadcast = None  # the `...` sizes so far, right-aligned
        # Inside a group `...` is flattened, so it cannot broadcast: then it
        # stands for the same axes everywhere, like a composite.
        self.exact_ellipsis = any(
            "..." in term
            for word in words
            for term in _spec_terms(word)
            if term.startswith("(")
        )

    def fail(self, message):
        raise ValueError(f"{self.function}: {message}")

    def require(self, condition, message):
        # TensorFlow escapes quotes in an assertion's message: use backquotes.
        self.conditions.append(
            (condition, f"{self.function}: {message}".replace("'", "`"))
        )

    def same(self, known, size, message, run_time_message):
        # Static sizes compared now; a size unknown while tracing, at run time.
        if isinstance(known, int) and isinstance(size, int):
            if known != size:
                self.fail(message)
        else:
            self.require(
                tf.equal(tf.cast(known, tf.int64), tf.cast(size, tf.int64)),
                run_time_message,
            )

    # ---- sizes

    def term(self, name, word, term, size):
        if term.startswith("("):
            self.group_terms.append((name, word, term, size))
            self.letter(term, size, name, f"group '{term}'")
        elif term == "_":
            message = f"operand '{name}' ({word}) needs size 1 at '_'"
            self.same(1, size, f"{message}, got {size}", message)
        elif term == "..." and not self.exact_ellipsis:
            self.broadcast_with(name, size)
        elif _is_run(term):
            self.composite(term, size, name)
        else:
            self.letter(term, size, name, f"axis '{term}'")

    def earlier(self, key, size, name):
        # The size of `key` and where it was seen first; None, and `size`
        # recorded, the first time.
        if key in self.seen:
            return self.seen[key]
        self.seen[key] = (size, f"'{name}'")
        return None

    def letter(self, letter, size, name, what):
        earlier = self.earlier(letter, size, name)
        if earlier is not None:
            known, where = earlier
            self.same(
                known,
                size,
                _mismatch(what, known, where, size, name),
                _differ(what, where, name),
            )

    def composite(self, letter, dims, name):
        earlier = self.earlier(letter, dims, name)
        if earlier is None:
            return
        known, where = earlier
        what = "'...'" if letter == "..." else f"composite '{letter}'"
        if len(known) != len(dims):
            self.fail(
                f"{what} has {len(known)} axes in {where} but {len(dims)} in '{name}'"
            )
        for a, b in zip(known, dims):
            self.same(
                a,
                b,
                _mismatch(what, _shown(known), where, _shown(dims), name),
                _differ(what, where, name),
            )

    def broadcast_with(self, name, dims):
        # numpy's rule for `...`: right-aligned sizes agree or one is 1.
        if self.broadcast is None:
            self.broadcast = (list(dims), f"'{name}'")
            return
        known, where = self.broadcast
        for k in range(1, min(len(known), len(dims)) + 1):
            a, b = known[-k], dims[-k]
            if isinstance(a, int) and isinstance(b, int):
                if a != b and 1 not in (a, b):
                    self.fail(
                        f"the '...' axes of {where} ({_shown(known)}) and '{name}' "
                        f"({_shown(dims)}) do not broadcast"
                    )
                known[-k] = a if b == 1 else b
            else:
                a, b = tf.cast(a, tf.int64), tf.cast(b, tf.int64)
                self.require(
                    tf.equal(a, b) | tf.equal(a, 1) | tf.equal(b, 1),
                    f"the '...' axes of {where} and '{name}' do not broadcast",
                )
                known[-k] = tf.maximum(a, b)
        known[:0] = dims[: max(len(dims) - len(known), 0)]

    # ---- groups

    def size_of(self, member):
        # The size a group member stands for, or None while unknown.
        if member == "_":
            return 1
        if member not in self.seen:
            return None
        size = self.seen[member][0]
        return math.prod(size) if isinstance(size, list) else size

    def groups(self):
        # A group's size is the product of its members' sizes. A member that
        # is the only unknown one of its group takes the size the group
        # leaves for it, which may settle other groups, until nothing
        # changes. Groups left then need no member sizes (contracted whole).
        pending = self.group_terms
        while pending:
            unsolved = []
            for name, word, term, size in pending:
                members = _spec_terms(term.replace("(", "").replace(")", ""))
                sizes = {member: self.size_of(member) for member in members}
                unknown = [member for member in sizes if sizes[member] is None]
                where = f"group '{term}' of '{name}' ({word})"
                product = math.prod(sizes[m] for m in members if sizes[m] is not None)
                if not unknown:
                    self.same(
                        product,
                        size,
                        f"{where} has size {size}, but its members make {product}",
                        f"{where} differs from the product of its members' sizes",
                    )
                elif len(unknown) == 1:
                    self.solve_member(unknown[0], where, size, product, term, name)
                else:
                    unsolved.append((name, word, term, size))
            if len(unsolved) == len(pending):
                return
            pending = unsolved

    def solve_member(self, member, where, size, product, term, name):
        # The size of the one unknown member of a group: the group's size
        # over the `product` of the others', which must divide it.
        undetermined = (
            f"the size of '{member}' in group {term} of '{name}' is undetermined: "
            "the other members' sizes multiply to 0"
        )
        if isinstance(size, int) and isinstance(product, int):
            if product == 0:
                self.fail(undetermined)
            if size % product:
                self.fail(
                    f"{where} has size {size}, no multiple of {product}, "
                    "the size of its other members"
                )
            self.seen[member] = (size // product, f"'{name}'")
            return
        size, product = tf.cast(size, tf.int64), tf.cast(product, tf.int64)
        self.require(product > 0, undetermined)
        self.require(
            tf.equal(size % tf.maximum(product, 1), 0),
            f"{where} is no multiple of the size of its members other than '{member}'",
        )
        self.seen[member] = (size // tf.maximum(product, 1), f"'{name}'")


class _AxisCheck(_AxisSizes):
    # One check, in its order: the operands' ranks and the ranks of their
    # runs, then each term's size (_AxisSizes), then the groups' members.

    # ---- ranks

    def operands(self, names, tensors):
        terms = [_spec_terms(word) for word in self.words]
        ranks = [tf.TensorShape(tensor.shape).rank for tensor in tensors]
        run_ranks = self.run_ranks(names, terms, ranks)
        for name, word, ts, tensor, rank, runs in zip(
            names, self.words, terms, tensors, ranks, run_ranks
        ):
            dims = self.operand_dims(f"operand '{name}' ({word})", ts, tensor, rank)
            for term, size in _term_sizes(ts, dims, runs):
                self.term(name, word, term, size)

    def operand_dims(self, where, terms, tensor, rank):
        # The sizes of the axes of `tensor`, once its rank fits its terms:
        # exactly one axis per term but runs, at least that many with runs.
        fixed = sum(not _is_run(term) for term in terms)
        has_runs = fixed < len(terms)
        self.fixed_ranks.append(None if rank is not None or has_runs else fixed)
        if rank is None:
            return self.dims_of_unknown_rank(where, terms, tensor, fixed, has_runs)
        shape = tf.TensorShape(tensor.shape)
        if has_runs and rank < fixed:
            self.fail(f"{where} needs rank >= {fixed}, got shape {shape}")
        if not has_runs and rank != fixed:
            self.fail(f"{where} must have rank {fixed}, got shape {shape}")
        return _dims(tensor)

    def dims_of_unknown_rank(self, where, terms, tensor, fixed, has_runs):
        # A rank unknown while tracing is asserted; a composite cannot be
        # laid out without it (a `...` can: it takes what the others leave).
        if any(_is_run(term) and term != "..." for term in terms):
            self.fail(
                f"{where}: its rank is unknown while tracing, and its composites "
                "need the rank; give the input signature a rank, "
                "e.g. tf.TensorSpec([None, None])"
            )
        rank = tf.rank(tensor)
        self.require(
            rank >= fixed if has_runs else tf.equal(rank, fixed),
            f"{where} needs rank {'>= ' if has_runs else ''}{fixed}",
        )
        dims = tf.shape(tensor, out_type=tf.int64)
        return dims if has_runs else [dims[axis] for axis in range(fixed)]

    def run_ranks(self, names, terms, ranks):
        # The rank of each run of each operand: an operand whose runs but
        # one have known ranks fixes that one (a repeated composite, `II`,
        # splits its axes into equal parts), until nothing changes.
        composites = {}  # composite -> (rank, the operand that fixed it)
        found = [{} for _ in terms]
        changed = True
        while changed:
            changed = False
            for k, (name, word, ts, rank) in enumerate(
                zip(names, self.words, terms, ranks)
            ):
                runs = [term for term in ts if _is_run(term)]
                if rank is None or not runs:
                    continue
                found[k] = self.operand_run_ranks(name, word, ts, rank, composites)
                for run, run_rank in found[k].items():
                    if run not in composites and run != "...":  # `...` is local
                        composites[run] = (run_rank, name)
                        changed = True
        return found

    def operand_run_ranks(self, name, word, terms, rank, composites):
        # The ranks of one operand's runs that the composites fixed so far
        # give, with the one the axes `left` give if just one is unknown.
        where = f"operand '{name}' ({word})"
        runs = [term for term in terms if _is_run(term)]
        known = {run: composites[run][0] for run in runs if run in composites}
        unknown = set(runs) - set(known)
        in_runs = rank - (len(terms) - len(runs))
        if in_runs < 0:
            return known  # too few axes even for its letters: the rank check says so
        left = in_runs - sum(known[run] for run in runs if run in known)
        if len(unknown) == 1:
            (run,) = unknown
            count = runs.count(run)
            if left < 0:
                fixed_by = ", ".join(
                    f"'{r}' has {n} in '{composites[r][1]}'" for r, n in known.items()
                )
                self.fail(
                    f"{where} has rank {rank}, too small for its composites: {fixed_by}"
                )
            if left % count:
                self.fail(
                    f"{where} has {left} axes for composite '{run}', "
                    f"which do not split into {count} equal parts"
                )
            known[run] = left // count
        elif not unknown and left:
            run = runs[0]
            if set(runs) == {run} and left % runs.count(run) == 0:
                self.fail(
                    f"composite '{run}' has {known[run]} axes in '{composites[run][1]}' "
                    f"but {known[run] + left // runs.count(run)} in '{name}'"
                )
            self.fail(
                f"{where} has rank {rank}, which its composites' ranks do not make"
            )
        return known


def _term_sizes(terms, dims, runs):
    # Each term of an operand with its size (a list of sizes for a run), from
    # the operand's `dims` and the ranks of its `runs`. Terms after the last
    # run of unknown rank count from the end; terms between two of them have
    # no fixed position: skipped, as are those runs.
    widths = [runs.get(term) if _is_run(term) else 1 for term in terms]
    unknown = [k for k, width in enumerate(widths) if width is None]
    start = 0
    for k, (term, width) in enumerate(zip(terms, widths)):
        if width is None or (unknown and unknown[0] < k < unknown[-1]):
            continue
        if unknown and k > unknown[-1]:
            start = -sum(widths[k:])
        end = start + width
        if start < 0 and end == 0:
            end = None  # to the last axis: dims[-2:0] would be empty
        yield term, dims[start:end] if _is_run(term) else dims[start]
        start += width


def _shown(dims):
    # Sizes as a message shows them: None where unknown while tracing.
    return [dim if isinstance(dim, int) else None for dim in dims]


def _mismatch(what, known, where, size, name):
    # Two sizes of one letter; within one operand (`ii`, or a tensor given
    # twice) the message names its two places, not two operands.
    if where == f"'{name}'":
        return f"{what} is {known} and also {size} in '{name}', which holds it twice: the two must be equal"
    return f"{what} is {known} in {where} but {size} in '{name}'"


def _differ(what, where, name):
    # The run-time form of _mismatch: the sizes are unknown while tracing.
    if where == f"'{name}'":
        return f"{what} differs between its two places in '{name}'"
    return f"{what} differs between {where} and '{name}'"


def _spec_terms(word, _cache={}):
    # "b(ij)_...K" -> ["b", "(ij)", "_", "...", "K"]: one entry per axis or run.
    if word not in _cache:
        terms, depth, k = [], 0, 0
        while k < len(word):
            char = word[k]
            if depth:
                terms[-1] += char
                depth += {"(": 1, ")": -1}.get(char, 0)
            elif char == "(":
                terms.append(char)
                depth = 1
            elif word.startswith("...", k):
                terms.append("...")
                k += 2
            else:
                terms.append(char)
            k += 1
        _cache[word] = terms
    return _cache[word]


def _diagonal(tensor, axes, result_axes):
    # The entries of `tensor` (letters `axes`) where repeated letters agree,
    # laid out as `result_axes`: one gather of just those entries. Raw ops
    # skip the wrappers' per-call Python work, which eagerly is most of it.
    index = _index_once(_diagonal_index, tensor, axes, result_axes)
    flat = tf.raw_ops.Reshape(tensor=tensor, shape=_shape([-1]))
    return tf.raw_ops.GatherV2(params=flat, indices=index, axis=0)


def _diagonal_index(dims, axes, result_axes):
    # The flat positions of the diagonal: each result axis steps through the
    # input by the sum of the strides of the axes that share its letter.
    size, stride, step = {}, {}, 1
    for axis in reversed(range(len(axes))):
        letter = axes[axis]
        if letter in size:
            if isinstance(size[letter], int) and isinstance(dims[axis], int):
                if size[letter] != dims[axis]:
                    raise ValueError(
                        f"the axes '{letter}' of a diagonal differ in size: "
                        f"{size[letter]} and {dims[axis]}"
                    )
            else:
                tf.debugging.assert_equal(
                    tf.cast(size[letter], tf.int64),
                    tf.cast(dims[axis], tf.int64),
                    f"the axes '{letter}' of a diagonal differ",
                )
        size[letter] = dims[axis]
        stride[letter] = stride.get(letter, 0) + step
        step = step * dims[axis]
    return _strided_positions(result_axes, size, stride, _index_dtype(dims))


def _dims(tensor, rank=None, needed_by=""):
    # The sizes of the axes of `tensor` as a list: ints where static (no
    # TensorFlow op), scalar tensors where unknown while tracing. Where the
    # rank is unknown too, `rank` is the one the spec fixes.
    if not hasattr(tensor, "shape"):
        tensor = tf.convert_to_tensor(tensor)
    shape = tf.TensorShape(tensor.shape)
    if shape.rank is None:
        if rank is None:
            raise ValueError(
                f"{needed_by}: its rank is unknown while tracing, and a composite or '...'"
                " in it needs the rank to lay out its axes; give the input signature a rank,"
                " e.g. tf.TensorSpec([None, None, None])"
            )
        dynamic = tf.shape(tf.ensure_shape(tensor, [None] * rank), out_type=tf.int64)
        return [dynamic[axis] for axis in range(rank)]
    dims, dynamic = [], None
    for axis, size in enumerate(shape):
        if size is None:
            if dynamic is None:
                dynamic = tf.shape(tensor, out_type=tf.int64)
            size = dynamic[axis]
        dims.append(size)
    return dims


def _gradient(tape, target, source, cotangent=None):
    # One reverse pass: cotangent^T J, J[a, b] = d a / d b. TensorFlow gives
    # J^H for complex dtypes: conjugating in and out makes it holomorphic.
    # ZERO: a function that ignores `source` has a zero gradient, not None.
    complex_ = source.dtype.is_complex
    if complex_ and cotangent is not None:
        cotangent = tf.math.conj(cotangent)
    gradient = tape.gradient(
        target, source, cotangent, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return tf.math.conj(gradient) if complex_ else gradient


def _index_once(build, tensor, axes, result_axes, _cache={}):
    # What `build` makes of the sizes of `tensor` (letters `axes`) and
    # `result_axes`, eagerly once per shape: the key is the static shape, as
    # it is, so a call that finds it does no other Python work. Safe to
    # share: the index depends only on the key and is never written. While
    # tracing it is built in the graph, which folds it to a constant.
    if not tf.executing_eagerly():
        return build(_dims(tensor, len(axes)), axes, result_axes)
    key = (build, tensor.shape, axes, result_axes)
    if key not in _cache:
        if len(_cache) >= 64:
            _cache.clear()
        _cache[key] = build(list(tensor.shape), axes, result_axes)
    return _cache[key]


def _index_dtype(dims):
    # int32 positions where every one fits (half the memory, and what GPU
    # kernels take natively); int64 where a size is large or unknown.
    if all(isinstance(size, int) for size in dims) and math.prod(dims) < 2**31:
        return tf.int32
    return tf.int64


def _induced_diagonal(tensor, axes, result_axes):
    # `tensor` (distinct letters `axes`) placed where the repeated letters of
    # `result_axes` agree, zeros elsewhere: one scatter (raw ops, as in
    # _diagonal).
    index, result_shape = _index_once(_induced_index, tensor, axes, result_axes)
    updates = tf.raw_ops.Reshape(tensor=tensor, shape=_shape([-1]))
    flat = tf.raw_ops.ScatterNd(
        indices=index, updates=updates, shape=_shape([math.prod(result_shape)])
    )
    return tf.raw_ops.Reshape(tensor=flat, shape=_shape(result_shape))


def _induced_index(dims, axes, result_axes):
    # Where each entry of the input lands in the flattened output, as the
    # [n, 1] indices of tf.scatter_nd, with the output's shape.
    size = dict(zip(axes, dims))
    result_shape = [size[letter] for letter in result_axes]
    stride, step = {}, 1
    for letter in reversed(result_axes):
        stride[letter] = stride.get(letter, 0) + step
        step = step * size[letter]
    index = _strided_positions(axes, size, stride, _index_dtype(result_shape))
    return tf.reshape(index, [-1, 1]), result_shape


def _strided_positions(axes, size, stride, dtype):
    # The flat position of each entry of a tensor laid out as `axes`, where
    # a step along letter l moves stride[l]: sum of broadcast ranges.
    index = 0
    for axis, letter in enumerate(axes):
        along = [1] * len(axes)
        along[axis] = -1
        steps = tf.range(size[letter], dtype=dtype) * tf.cast(stride[letter], dtype)
        index += tf.reshape(steps, along)
    return index


def _jacobian(tape, target, source):
    # The full Jacobian J[a, b] = d a / d b (holomorphic for complex dtypes).
    # Eagerly, up to 128 entries, a loop of reverse passes on the persistent
    # `tape` beats tape.jacobian, whose pfor re-traces on every call
    # (measured: 64x64 in 31 ms against 64 ms).
    size = target.shape.num_elements()
    if tf.executing_eagerly() and size is not None and 0 < size <= 128:
        basis = tf.unstack(
            tf.reshape(
                tf.eye(size, dtype=target.dtype), [size] + target.shape.as_list()
            )
        )
        rows = [_gradient(tape, target, source, cotangent) for cotangent in basis]
        return tf.reshape(tf.stack(rows), target.shape + source.shape)
    jacobian = tape.jacobian(
        target, source, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return tf.math.conj(jacobian) if jacobian.dtype.is_complex else jacobian


def _require_bool(tensor, function, operand):
    # eincount and einany count or test boolean products: another dtype is a mistake.
    if tensor.dtype != tf.bool:
        raise TypeError(
            f"{function}: operand '{operand}' must be boolean, got {tensor.dtype.name}"
        )


def _static_sizes(spec, *operands, assumed=None):
    # The sizes of the letters after '->' in `spec` from the operands' static
    # shapes, to choose a contraction order; an unknown one counts as its
    # `where ~` size in `assumed`, else 64, as the compile-time plan did.
    words, letters = spec.split("->")
    known = {}
    for word, operand in zip(words.split(","), operands):
        shape = tf.TensorShape(getattr(operand, "shape", None))
        for letter, size in zip(word, shape if shape.rank is not None else ()):
            if size is not None:
                known.setdefault(letter, size)
    assumed = assumed or {}
    return [known.get(letter, assumed.get(letter, 64)) for letter in letters]


def _trace_when_eager(function):
    # Eager calls run `function` traced (a Jacobian: 0.3 ms, against 60 ms
    # for pfor's re-trace). Safe to cache: `function` takes tensors only, so
    # a trace depends on nothing but their shapes and dtypes; never used for
    # functions that take a callable, whose state a trace would keep stale.
    traced = tf.function(function, reduce_retracing=True)

    @functools.wraps(function)
    def run(*args, **kwargs):
        if tf.executing_eagerly():
            return traced(*args, **kwargs)
        return function(*args, **kwargs)

    return run


def _shape(sizes, _cache={}):
    # A reshape's target. Eagerly every size is an int: an int32 tensor made
    # once per target, which TensorFlow takes as it is (a list of ints is
    # converted on every call, ~25 µs here). While tracing the list as it
    # is: it may hold sizes unknown until run time, and the graph folds it.
    if not tf.executing_eagerly() or not all(isinstance(n, int) for n in sizes):
        return sizes
    key = tuple(sizes)
    if key not in _cache:
        if len(_cache) >= 1024:
            _cache.clear()
        dtype = tf.int32 if all(abs(size) < 2**31 for size in key) else tf.int64
        _cache[key] = tf.constant(key, dtype)
    return _cache[key]


def _equation(spec, *operands, _cache={}):
    # `spec` ("Ij,jK->IK") as one Einsum equation for these operands: each
    # composite spelled out as letters the spec does not use, as many as the
    # operands' ranks give it ("abj,jcd->abcd"); `...` stays, the Einsum op
    # takes it. Once per spec and ranks. Groups and `_` are not einsum.
    ranks = tuple(len(operand.shape) for operand in operands)
    key = (spec, ranks)
    if key not in _cache:
        words, result = spec.split("->")
        words = words.split(",")
        terms = [_spec_terms(word) for word in words]
        found = _AxisCheck(spec, words, None).run_ranks(words, terms, ranks)
        run_ranks = {run: n for runs in found for run, n in runs.items()}
        free = (c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        free = (c for c in free if c not in spec)
        letters = {
            run: "".join(next(free) for _ in range(n))
            for run, n in run_ranks.items()
            if run != "..."
        }

        def spelled(word):
            terms = _spec_terms(word)
            if any(_is_run(t) and t != "..." and t not in letters for t in terms):
                raise ValueError(f"{spec}: the ranks {ranks} leave a composite's open")
            return "".join(letters.get(term, term) for term in terms)

        _cache[key] = ",".join(map(spelled, words)) + "->" + spelled(result)
    return _cache[key]


def _require_floating(tensor, function, operand, builtin):
    # einmax, einmin and einlogsumexp add operands and reduce by max, min or
    # log-sum-exp, from -inf or +inf: integers and booleans have neither.
    if not tensor.dtype.is_floating:
        raise TypeError(
            f"{function}: {builtin} needs floating operands; "
            f"operand '{operand}' is {tensor.dtype.name}"
        )


def _semiring_zero(kind, dtype):
    # The identity of the semiring's reduction: -inf for max and logsumexp,
    # +inf for min.
    return tf.constant(math.inf if kind == "min" else -math.inf, dtype)


def _semiring_induced_diagonal(kind, tensor, axes, result_axes):
    # _induced_diagonal with the semiring's zero off the diagonal.
    placed = _induced_diagonal(tensor, axes, result_axes)
    on_diagonal = _induced_diagonal(tf.ones_like(tensor), axes, result_axes) > 0
    return tf.where(on_diagonal, placed, _semiring_zero(kind, tensor.dtype))


def _semiring_reduce(kind, tensor, axis, keepdims=False):
    # tf.reduce_max, tf.reduce_min or tf.reduce_logsumexp: each gives the
    # semiring's zero for an empty axis, and reduce_logsumexp -inf for a
    # slice that is all -inf.
    reduce = {
        "max": tf.reduce_max,
        "min": tf.reduce_min,
        "logsumexp": tf.reduce_logsumexp,
    }[kind]
    return reduce(tensor, axis, keepdims)


def _semiring_operands(kind, layout, a, b):
    # `a` and `b` with the axes each has alone reduced (_SemiringLayout).
    return [
        _semiring_reduce(kind, tensor, axes) if axes else tensor
        for tensor, axes in zip((a, b), layout.alone)
    ]


def _semiring_align(a, b, alignments):
    # `a` and `b` moved and given size-1 axes as `alignments` say
    # (_alignment): so that `+` broadcasts them.
    aligned = []
    for tensor, (moved, units) in zip((a, b), alignments):
        if moved:
            tensor = tf.einsum(moved, tensor)
        for axis in units:
            tensor = tf.expand_dims(tensor, axis)
        aligned.append(tensor)
    return aligned


def _semiring_result(tensor, layout):
    # The broadcast sum's result laid out as the pair's.
    if layout.result_equation is None:
        return tensor
    return tf.einsum(layout.result_equation, tensor)


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
    # `block` elements beside the result, each folded into the result.
    # That axis goes first: reducing a leading axis runs 3-4x faster than a
    # short last one (2x2 blocks of 1024x1024 products, TF 2.21 CPU).
    # Gradients of max and min: reduce_max splits it evenly among ties
    # within a block; between blocks, tf.maximum gives it to the earlier.
    if count > 1:
        a, b = _merge_last(a, count), _merge_last(b, count)
    if a.shape.rank is None or a.shape.rank != b.shape.rank:
        a, b = _same_rank(a, b)
    a, b = tf.einsum("...k->k...", a), tf.einsum("...k->k...", b)
    total = tf.shape(a, out_type=tf.int64)[0]
    result_shape = tf.broadcast_dynamic_shape(
        tf.shape(a, out_type=tf.int64)[1:], tf.shape(b, out_type=tf.int64)[1:]
    )
    step = tf.maximum(block // tf.maximum(tf.reduce_prod(result_shape), 1), 1)

    def fold(start, partial):
        stop = start + step
        part = _semiring_reduce(kind, a[start:stop] + b[start:stop], 0)
        if kind == "max":
            return stop, tf.maximum(partial, part)
        if kind == "min":
            return stop, tf.minimum(partial, part)
        return stop, tf.reduce_logsumexp(tf.stack([partial, part]), 0)

    # The zero, tied to the operands by their empty slices' sums (zeros): an
    # empty contraction keeps the gradient's path (zeros), as einsum's does.
    partial = tf.fill(result_shape, _semiring_zero(kind, a.dtype))
    partial += tf.reduce_sum(a[:0]) + tf.reduce_sum(b[:0])
    if a.shape[0] == 0 or b.shape[0] == 0:
        return partial  # XLA compiles the loop's slices even to run them no times
    _, partial = tf.while_loop(
        lambda start, _: start < total, fold, (tf.constant(0, tf.int64), partial)
    )
    return partial


def _same_rank(a, b):
    # `a` and `b` with leading size-1 axes up to the rank of the other, as
    # broadcasting would add them.
    rank = tf.maximum(tf.rank(a), tf.rank(b))

    def padded(tensor):
        ones = tf.ones([rank - tf.rank(tensor)], tf.int64)
        return tf.reshape(tensor, tf.concat([ones, tf.shape(tensor, out_type=tf.int64)], 0))

    return padded(a), padded(b)


def _merge_last(tensor, count):
    # The last `count` axes of `tensor` as one.
    shape = tf.shape(tensor, out_type=tf.int64)
    merged = tf.reduce_prod(shape[-count:], keepdims=True)
    return tf.reshape(tensor, tf.concat([shape[:-count], merged], 0))


def _logsumexp_pair(equation, a, b, block):
    # log Σ exp(a + b) over the contracted letters of `equation`, on the
    # matrix-product path: each operand shifted by its maximum over those
    # letters, exp, tf.einsum, log, the shifts added back (the shifts are
    # constants to the gradient: they cancel). Exact (float32: 1e-7
    # relative, float64: 3e-16) while each result's largest term is at
    # least tiny / eps (2**-103 in float32, 2**-970 in float64) times the
    # product of the shifts: the product underflows below that. The entries
    # that fall below it, true -inf ones among them, are computed again in
    # blocks (_semiring_blocks, which only runs when some entry needs it).
    layout = _SemiringLayout(equation)
    a, b = _semiring_operands("logsumexp", layout, a, b)
    if not layout.contracted:
        a, b = _semiring_align(a, b, layout.aligned)
        return _semiring_result(a + b, layout)
    scaled, shifts = [], []
    for tensor, axes in zip((a, b), layout.shared_axes):
        shift = tf.stop_gradient(tf.reduce_max(tensor, axes, keepdims=True))
        shift = tf.where(tf.math.is_finite(shift), shift, tf.zeros_like(shift))
        scaled.append(tf.exp(tensor - shift))
        shifts.append(tf.squeeze(shift, axes))
    shifts = _semiring_align(*shifts, layout.shift_aligned)
    product = tf.einsum(layout.product, *scaled)
    low = product < _smallest_exact(product.dtype)
    # Where the product is low its log is not used: 1 keeps its gradient finite.
    fast = tf.math.log(tf.where(low, tf.ones_like(product), product)) + shifts[0] + shifts[1]

    def blocked():
        aligned = _semiring_align(a, b, layout.aligned)
        exact = _semiring_blocks("logsumexp", *aligned, layout.contracted, block)
        return tf.where(low, exact, fast)

    summed = tf.cond(tf.reduce_any(low), blocked, lambda: fast)
    return _semiring_result(summed, layout)


def _smallest_exact(dtype):
    # The smallest value a sum of exp() holds to full precision: tiny / eps,
    # the smallest normal number over the spacing of numbers near 1.
    exponent = {tf.float16: -4, tf.bfloat16: -119, tf.float32: -103}.get(dtype, -970)
    return tf.constant(2.0**exponent, dtype)
