"""IR: each generated function as a straight list of named TensorFlow steps."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Union

from einigc.errors import InternalError


@dataclass(frozen=True)
class Einsum:
    equation: str
    operands: tuple[str, ...]


@dataclass(frozen=True)
class EinsumOfRuns:
    """One Einsum op for a spec with composites (`Ij,jK->IK`), its equation
    spelled for the operands' ranks when called (eagerly: no reshapes)."""

    spec: str
    operands: tuple[str, ...]


@dataclass(frozen=True)
class MatMul:
    a: str
    b: str
    transpose_a: bool = False
    transpose_b: bool = False


@dataclass(frozen=True)
class FusedMatMul:
    """A 2-D matrix product after merging runs of axes: rows, inner, cols.

    Op selection's answer, not a step: lowering expands it into reshapes and a MatMul.
    """

    a: str  # the operand that gives the rows
    b: str
    rows: tuple[str, ...]
    inner: tuple[str, ...]
    cols: tuple[str, ...]
    transpose_a: bool
    transpose_b: bool


@dataclass(frozen=True)
class BatchMatMul:
    """Leading batch axes shared by both operands (or broadcast), then a matrix product.

    A transpose swaps an operand's last two axes (a view, never a conjugate);
    `y_is_vector`: `y` lacks the columns axis, taken as a column of one (a
    1-D `y` without it: matmul's own matrix-vector product).
    Only targets whose product takes them (`select.MatmulKernel`) get them.
    """

    x: str
    y: str
    transpose_x: bool = False
    transpose_y: bool = False
    y_is_vector: bool = False


@dataclass(frozen=True)
class ReduceSum:
    operand: str
    axes: tuple[int, ...]
    keepdims: bool = False


@dataclass(frozen=True)
class SumLeading:
    """Sums every axis but the last `keep`: the axes of `...` when the output drops it."""

    operand: str
    keep: int


@dataclass(frozen=True)
class Transpose:
    operand: str
    perm: tuple[int, ...]


@dataclass(frozen=True)
class CallFunction:
    function: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Cast:
    operand: str
    dtype: str


@dataclass(frozen=True)
class GreaterThanZero:
    operand: str


# --- shape values: trace-time sizes, ranks and runs of shape lists ---------
#
# A shape read (`ShapeOf`) binds a Python list of sizes (ints where static);
# these nodes compute from such lists at trace time, with no TensorFlow op.


@dataclass(frozen=True)
class Const:
    value: int


@dataclass(frozen=True)
class Name:
    """A scalar bound earlier (a rank, a size)."""

    name: str


@dataclass(frozen=True)
class Shape:
    """The whole shape list bound to `name`."""

    name: str


@dataclass(frozen=True)
class Dim:
    """One entry of the shape list `shape` (a negative index counts from the back)."""

    shape: str
    index: "Value"


@dataclass(frozen=True)
class Slice:
    """A run of entries of the shape list `shape`; a bound of None is open."""

    shape: str
    start: "Value | None"
    stop: "Value | None"


@dataclass(frozen=True)
class Len:
    """The length of the shape list `shape`: the rank."""

    shape: str


@dataclass(frozen=True)
class Add:
    terms: tuple["Value", ...]


@dataclass(frozen=True)
class Sub:
    left: "Value"
    right: "Value"


@dataclass(frozen=True)
class Mul:
    factors: tuple["Value", ...]


@dataclass(frozen=True)
class FloorDiv:
    left: "Value"
    right: "Value"


@dataclass(frozen=True)
class Prod:
    """The product of the entries of a run (`Shape` or `Slice`)."""

    run: "Value"


Value = Union[Const, Name, Shape, Dim, Slice, Len, Add, Sub, Mul, FloorDiv, Prod]
VALUES = (Const, Name, Shape, Dim, Slice, Len, Add, Sub, Mul, FloorDiv, Prod)
RUNS = (Shape, Slice)  # values that are lists of sizes, not one size


def product(factors) -> Value:
    """The product of `factors`: the factor itself when there is one, 1 when none."""
    factors = tuple(factors)
    if not factors:
        return Const(1)
    return factors[0] if len(factors) == 1 else Mul(factors)


def total(terms) -> Value:
    """The sum of `terms`: the term itself when there is one, 0 when none."""
    terms = tuple(terms)
    if not terms:
        return Const(0)
    return terms[0] if len(terms) == 1 else Add(terms)


@dataclass(frozen=True)
class Reshape:
    operand: str
    shape: tuple[Value, ...]  # sizes, and runs (`RUNS`) spliced in


@dataclass(frozen=True)
class ShapeOf:
    """The sizes of `operand`'s axes as a Python list (ints where static).

    `rank`: the rank the spec fixes, used where the tensor's is unknown while
    tracing; without one, `needed_by` says who needs the rank (for the error).
    """

    operand: str
    rank: int | None = None
    needed_by: str = ""


@dataclass(frozen=True)
class Diagonal:
    """Entries where repeated letters of `axes` agree, laid out as `result_axes` (a gather)."""

    operand: str
    axes: str
    result_axes: str


@dataclass(frozen=True)
class DiagPart:
    """The diagonal of `operand`'s last two axes (`...ii->...i`): one op, no index."""

    operand: str


@dataclass(frozen=True)
class InducedDiagonal:
    """`operand` (axes `axes`) placed on the diagonal of `result_axes`, zeros elsewhere (a scatter)."""

    operand: str
    axes: str
    result_axes: str


Op = Union[
    MatMul,
    BatchMatMul,
    "ZerosLike",
    "OnesLike",
    "Gradient",
    "Jacobian",
    Reshape,
    ShapeOf,
    Value,  # shape arithmetic, bound to a name
    Diagonal,
    DiagPart,
    InducedDiagonal,
    Einsum,
    EinsumOfRuns,
    ReduceSum,
    SumLeading,
    Transpose,
    CallFunction,
    Cast,
    GreaterThanZero,
    "SemiringPair",
    "SemiringReduce",
    "SemiringReduceLeading",
    "SemiringInducedDiagonal",
    "VjpOf",
    "JvpOf",
    "JacobianOf",
    "Vmap",
    "VjpOfJvp",
]


@dataclass(frozen=True)
class Assign:
    """`target = op` with an optional comment line above it."""

    target: str
    op: Op
    comment: str = ""


@dataclass(frozen=True)
class RequireBool:
    """Rejects a non-boolean operand at trace time."""

    operand: str
    function: str


@dataclass(frozen=True)
class CheckAxes:
    """Checks that operands agree on each named axis (and with `where` sizes)."""

    function: str
    spec: str  # the input operands of the spec, comma-separated, no spaces
    operands: tuple[str, ...]
    sizes: tuple[tuple[str, int], ...]
    targets: tuple[str, ...]  # the checked operands, ordered after the checks ("_": not needed)
    labels: tuple[str, ...] = ()  # the user's names for the operands in messages, if not `operands`


@dataclass(frozen=True)
class ChooseOrder:
    """Candidate contraction orders; the static sizes pick the cheapest at trace time."""

    spec: str  # the operands' letters, "->", the letters whose sizes are read
    operands: tuple[str, ...]
    size_names: tuple[str, ...]
    assumed: tuple[tuple[str, int], ...]  # `where ~` sizes for dimensions unknown while tracing
    costs: tuple[Value, ...]  # the cost of each order, of the sizes (`Name`s of size_names)
    labels: tuple[str, ...]
    bodies: tuple[tuple["Statement", ...], ...]
    flops_name: str = "cost"
    copy_cost: int = 0  # what the costs charge per copied element, if they count copies
    order_name: str = "order"


@dataclass(frozen=True)
class EagerChoice:
    """`eager` (one op) when TensorFlow runs eagerly, else `graph`; both bind one name."""

    eager: tuple["Statement", ...]
    graph: tuple["Statement", ...]
    comment: str = ""  # above the choice (the step it implements)


@dataclass(frozen=True)
class Comment:
    """A comment for the statement after it; passes.attach_comments moves it there."""

    text: str


@dataclass(frozen=True)
class Return:
    """`return value`: a name bound before (`Name`), or an op (see passes.returns)."""

    value: Union[Op, Name]
    comment: str = ""


Statement = Union[
    Assign, RequireBool, "RequireFloating", CheckAxes, ChooseOrder, EagerChoice, "Tape", "Closure", Return, Comment
]


# --- the einsums of other semirings: einmax, einmin, einlogsumexp ----------
#
# `kind` is "max", "min" or "logsumexp": operands are combined by `+` and the
# letters a step drops are reduced by `kind`.

SEMIRING_KINDS = ("max", "min", "logsumexp")


@dataclass(frozen=True)
class SemiringPair:
    """One planned pair: `a` + `b` broadcast as `equation` lays them out, its
    dropped letters reduced by `kind`. max and min run in blocks of the
    contracted letters, each block's broadcast at most `block` elements;
    logsumexp as a shifted matrix product (exp, einsum, log), the entries
    that underflow it again in such blocks."""

    kind: str
    equation: str
    a: str
    b: str
    block: int = 0


@dataclass(frozen=True)
class SemiringReduce:
    """`operand` reduced by `kind` along `axes`."""

    kind: str
    operand: str
    axes: tuple[int, ...]
    keepdims: bool = False


@dataclass(frozen=True)
class SemiringReduceLeading:
    """`operand` reduced by `kind` along every axis but the last `keep` (`...` dropped)."""

    kind: str
    operand: str
    keep: int


@dataclass(frozen=True)
class SemiringInducedDiagonal:
    """InducedDiagonal with the semiring's zero (-inf, or +inf for min) off the diagonal."""

    kind: str
    operand: str
    axes: str
    result_axes: str


@dataclass(frozen=True)
class RequireFloating:
    """Rejects an operand that is not floating (einmax, einmin, einlogsumexp) at trace time."""

    operand: str
    function: str
    builtin: str


# --- the plan and the docstring, as data -------------------------------------


@dataclass(frozen=True)
class PathInfo:
    """How one call's contraction was planned, as opt_einsum's PathInfo tells it."""

    spec: str  # in core axes: the operands' letters, "->", the output's
    implicit: bool  # the user left the output implicit
    groups: tuple[tuple[str, str], ...]  # (the free letter, the group it stands for), groups kept whole
    order: tuple[str, ...]  # the pair equations, in order (none for a single step)
    strategy: str  # plan.Plan.strategy
    planned_flops: int
    naive_flops: int
    largest_intermediate: int
    sizes: tuple[tuple[str, int, str], ...]  # (the letter as shown, its size, where it came from)
    alternatives: tuple[tuple[str, ...], ...] = ()  # other orders the static shapes may pick


@dataclass(frozen=True)
class LoweringChoice:
    """How a call was lowered, in words (eingrad's strategy)."""

    how: str


@dataclass(frozen=True)
class PlanNote:
    """What the docstring's plan says about one call (`label`)."""

    label: str
    entries: tuple[Union[PathInfo, LoweringChoice], ...]


@dataclass(frozen=True)
class FunctionDoc:
    """The parts of a function's docstring; the target's printer lays them out."""

    user_doc: str = ""
    source_name: str = ""
    source_line: str = ""  # the declaration as written ("" to leave the source out)
    signature_lines: tuple[str, ...] = ()  # Args and Returns, in axes
    plan: tuple[PlanNote, ...] = ()


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[str, ...]
    doc: FunctionDoc
    body: tuple[Statement, ...]  # ends with a Return
    trace_when_eager: bool = False  # eagerly, run as a tf.function (a Jacobian, no callable)
    param_types: tuple[str, ...] = ()  # "tensor" or "callable" per parameter, for type hints (none where empty)


@dataclass(frozen=True)
class Module:
    source_name: str
    docstring: str
    functions: tuple[Function, ...]


# --- automatic differentiation -----------------------------------------------


@dataclass(frozen=True)
class ZerosLike:
    operand: str


@dataclass(frozen=True)
class OnesLike:
    operand: str


@dataclass(frozen=True)
class Gradient:
    """`_gradient(tape, target, source, cotangent)`: one reverse pass (holomorphic for complex)."""

    tape: str
    target: str
    source: str
    output_gradients: str = ""


@dataclass(frozen=True)
class Jacobian:
    """`_jacobian(tape, target, source)`: the full Jacobian (holomorphic for complex)."""

    tape: str
    target: str
    source: str


@dataclass(frozen=True)
class Tape:
    """`with tf.GradientTape() as tape:` watching `watch`, recording `body`."""

    tape: str
    watch: str
    body: tuple["Statement", ...]
    comment: str = ""
    persistent: bool = False  # for several reverse passes (an eager Jacobian)



# --- functional automatic differentiation (PyTorch, JAX) ---------------------
#
# Where the framework differentiates functions (torch.func, jax), the operand
# left of `%` becomes a local function of the variable (`Closure`) and the
# derivative a transform of it. Every transform gives the holomorphic J for
# complex dtypes: J[a, b] = d a / d b, the JVP J v, the VJP z^T J.


@dataclass(frozen=True)
class Closure:
    """`def name(param): body` inside the function: the operand left of `%` as a function of its variable.

    `body` ends with a Return; it reads names of the enclosing function.
    """

    name: str
    param: str
    body: tuple["Statement", ...]
    comment: str = ""


@dataclass(frozen=True)
class VjpOf:
    """cotangent^T J of `function` at `primal`: one reverse pass; no cotangent: the gradient of the sum."""

    function: str
    primal: str
    cotangent: str = ""


@dataclass(frozen=True)
class JvpOf:
    """J tangent of `function` at `primal`: one forward-mode pass."""

    function: str
    primal: str
    tangent: str


@dataclass(frozen=True)
class JacobianOf:
    """The full Jacobian of `function` at `primal`, J[value axes, primal axes].

    `mode`: "reverse" (one reverse pass per entry of the value, vectorized)
    or "forward" (one forward pass per entry of the primal).
    """

    function: str
    primal: str
    mode: str = "reverse"



@dataclass(frozen=True)
class Vmap:
    """`function` (a local function of one tensor) mapped over the leading `levels` axes of `operand`, vectorized.

    For the JVPs or VJPs of one pair with the slices of another pair's Jacobian as their tangents or cotangents.
    """

    function: str
    operand: str
    levels: int = 1


@dataclass(frozen=True)
class VjpOfJvp:
    """Jᵀ (J tangent) of `function` at `primal`, the function evaluated once: a JVP, then a VJP with it."""

    function: str
    primal: str
    tangent: str

# --- what a node reads ------------------------------------------------------

# The fields of each node that name the values it reads (a name or a tuple of
# names); its other fields that hold nodes are read through. A statement's
# targets are not reads.
_READ_FIELDS: dict[type, tuple[str, ...]] = {
    Einsum: ("operands",),
    EinsumOfRuns: ("operands",),
    MatMul: ("a", "b"),
    BatchMatMul: ("x", "y"),
    ReduceSum: ("operand",),
    SumLeading: ("operand",),
    Transpose: ("operand",),
    CallFunction: ("function", "args"),  # the function may be a parameter
    Cast: ("operand",),
    GreaterThanZero: ("operand",),
    SemiringPair: ("a", "b"),
    SemiringReduce: ("operand",),
    SemiringReduceLeading: ("operand",),
    SemiringInducedDiagonal: ("operand",),
    RequireFloating: ("operand",),
    Reshape: ("operand",),
    ShapeOf: ("operand",),
    DiagPart: ("operand",),
    Diagonal: ("operand",),
    InducedDiagonal: ("operand",),
    ZerosLike: ("operand",),
    OnesLike: ("operand",),
    Gradient: ("tape", "target", "source", "output_gradients"),
    Jacobian: ("tape", "target", "source"),
    Const: (),
    Name: ("name",),
    Shape: ("name",),
    Dim: ("shape",),
    Slice: ("shape",),
    Len: ("shape",),
    Add: (),
    Sub: (),
    Mul: (),
    FloorDiv: (),
    Prod: (),
    Assign: (),
    RequireBool: ("operand",),
    CheckAxes: ("operands",),
    ChooseOrder: ("operands",),
    Tape: ("watch",),
    EagerChoice: (),
    Return: (),
    Comment: (),
    Closure: (),
    VjpOf: ("function", "primal", "cotangent"),
    JvpOf: ("function", "primal", "tangent"),
    JacobianOf: ("function", "primal"),
    Vmap: ("function", "operand"),
    VjpOfJvp: ("function", "primal", "tangent"),
}


def reads(node) -> set[str]:
    """Every name `node` (a statement, op or value, or a tuple of them) reads."""
    if isinstance(node, tuple):
        return set().union(*map(reads, node))
    if node is None or isinstance(node, (str, int, bool)):
        return set()  # a name is read only through a field that says so
    fields = _READ_FIELDS.get(type(node))
    if fields is None:
        raise InternalError("ir", f"no reads for {type(node).__name__}")
    names: set[str] = set()
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if field.name in fields:
            names.update((value,) if isinstance(value, str) else value)
        else:
            names |= reads(value)
    names.discard("")  # an optional name left out (no cotangent)
    return names
