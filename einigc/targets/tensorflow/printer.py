"""The TensorFlow printer: IR statements and values to Python source lines, and each function's text."""

from __future__ import annotations

import inspect
import unicodedata

from einigc import ir
from einigc.errors import InternalError
from einigc.plan import DEFAULT_SIZE
from einigc.resources import template_environment
from einigc.targets.tensorflow.docstring import docstring_text


def _axis_list(axes: tuple[int, ...]) -> str:
    return str(axes[0]) if len(axes) == 1 else "[" + ", ".join(map(str, axes)) + "]"


class Printer:
    """One method per IR op, each returning a Python expression (as in sympy's printers)."""

    def __init__(self):
        self.helpers: set[str] = set()  # module-level helpers the printed code calls
        self.imports: set[str] = set()  # modules and names the printed code uses ("math", "Callable")
        self.graph_only = False  # printing a branch that runs only while tracing (no eager costs)

    def expr(self, op: ir.Op) -> str:
        method = getattr(self, f"_print_{type(op).__name__}", None)
        if method is None:
            raise InternalError("emit", f"no printer for {type(op).__name__}")
        return method(op)

    def hint(self, kind: str) -> str:
        """The type hint of a parameter of `kind` ("tensor", "callable")."""
        if kind == "callable":
            self.imports.add("Callable")
            return "Callable[[tf.Tensor], tf.Tensor]"
        if kind == "tensor":
            return "tf.Tensor"
        raise InternalError("emit", f"no type hint for a {kind!r} parameter")

    def _print_Einsum(self, op: ir.Einsum) -> str:
        # The raw op skips tf.einsum's per-call parsing of the equation.
        return f'tf.raw_ops.Einsum(inputs=[{", ".join(op.operands)}], equation="{op.equation}")'

    def _print_EinsumOfRuns(self, op: ir.EinsumOfRuns) -> str:
        self.helpers.add("equation")
        operands = ", ".join(op.operands)
        return f'tf.raw_ops.Einsum(inputs=[{operands}], equation=_equation("{op.spec}", {operands}))'

    def _print_MatMul(self, op: ir.MatMul) -> str:
        flags = "".join(
            f", {name}=True" for name, on in (("transpose_a", op.transpose_a), ("transpose_b", op.transpose_b)) if on
        )
        return f"tf.raw_ops.MatMul(a={op.a}, b={op.b}{flags})"

    def _print_BatchMatMul(self, op: ir.BatchMatMul) -> str:
        return f"tf.raw_ops.BatchMatMulV2(x={op.x}, y={op.y})"

    def _print_ReduceSum(self, op: ir.ReduceSum) -> str:
        keep = ", keepdims=True" if op.keepdims else ""
        return f"tf.reduce_sum({op.operand}, axis={_axis_list(op.axes)}{keep})"

    def _print_SumLeading(self, op: ir.SumLeading) -> str:
        if op.keep == 0:
            return f"tf.reduce_sum({op.operand})"
        return f"tf.reduce_sum({op.operand}, axis=tf.range(tf.rank({op.operand}) - {op.keep}))"

    def _print_Transpose(self, op: ir.Transpose) -> str:
        return f"tf.transpose({op.operand}, perm={list(op.perm)})"

    def _print_Reshape(self, op: ir.Reshape) -> str:
        # Sizes are Python lists (of ints where shapes are static), so runs of
        # axes join with `+`, at trace time, with no TensorFlow op.
        pieces: list[str] = []
        scalars: list[str] = []
        for piece in op.shape:
            if not isinstance(piece, ir.RUNS):
                scalars.append(self.expr(piece))
                continue
            if scalars:
                pieces.append(f"[{', '.join(scalars)}]")
                scalars = []
            pieces.append(self.expr(piece))
        if scalars or not pieces:
            pieces.append(f"[{', '.join(scalars)}]")
        target = " + ".join(pieces)
        if self.graph_only:
            return f"tf.reshape({op.operand}, {target})"
        # Eagerly, TensorFlow converts a list target on every call (~25 µs);
        # `_shape` hands it a tensor made once (see the runtime).
        self.helpers.add("shape")
        return f"tf.reshape({op.operand}, _shape({target}))"

    def _print_ShapeOf(self, op: ir.ShapeOf) -> str:
        self.helpers.add("dims")
        if op.rank is not None:
            return f"_dims({op.operand}, {op.rank})"
        return f'_dims({op.operand}, needed_by="{op.needed_by}")'

    # --- shape values, parenthesised by precedence ------------------------

    def _operand(self, value: ir.Value, parent: int, strict: bool = False) -> str:
        """`value` as an operand of an operator of precedence `parent`;
        `strict` for a right operand of `-` or `//`, which do not associate."""
        text = self.expr(value)
        own = _PRECEDENCE.get(type(value), _ATOM)
        return f"({text})" if own < parent or strict and own == parent else text

    def _print_Const(self, value: ir.Const) -> str:
        return str(value.value)

    def _print_Name(self, value: ir.Name) -> str:
        return value.name

    def _print_Shape(self, value: ir.Shape) -> str:
        return value.name

    def _print_Dim(self, value: ir.Dim) -> str:
        return f"{value.shape}[{self.expr(value.index)}]"

    def _print_Slice(self, value: ir.Slice) -> str:
        start = "" if value.start is None else self.expr(value.start)
        stop = "" if value.stop is None else self.expr(value.stop)
        return f"{value.shape}[{start}:{stop}]"

    def _print_Len(self, value: ir.Len) -> str:
        return f"len({value.shape})"

    def _print_Add(self, value: ir.Add) -> str:
        return " + ".join(self._operand(term, _SUM) for term in value.terms)

    def _print_Sub(self, value: ir.Sub) -> str:
        return f"{self._operand(value.left, _SUM)} - {self._operand(value.right, _SUM, strict=True)}"

    def _print_Mul(self, value: ir.Mul) -> str:
        return " * ".join(self._operand(factor, _PRODUCT) for factor in value.factors)

    def _print_FloorDiv(self, value: ir.FloorDiv) -> str:
        return f"{self._operand(value.left, _PRODUCT)} // {self._operand(value.right, _PRODUCT, strict=True)}"

    def _print_Prod(self, value: ir.Prod) -> str:
        self.imports.add("math")
        return f"math.prod({self.expr(value.run)})"

    def _print_Diagonal(self, op: ir.Diagonal) -> str:
        self.helpers.add("diagonal")
        return f'_diagonal({op.operand}, "{op.axes}", "{op.result_axes}")'

    def _print_DiagPart(self, op: ir.DiagPart) -> str:
        return f"tf.linalg.diag_part({op.operand})"

    def _print_InducedDiagonal(self, op: ir.InducedDiagonal) -> str:
        self.helpers.add("induced_diagonal")
        return f'_induced_diagonal({op.operand}, "{op.axes}", "{op.result_axes}")'

    def _print_ZerosLike(self, op: ir.ZerosLike) -> str:
        return f"tf.zeros_like({op.operand})"

    def _print_OnesLike(self, op: ir.OnesLike) -> str:
        return f"tf.ones_like({op.operand})"

    def _print_Gradient(self, op: ir.Gradient) -> str:
        self.helpers.add("gradient")
        cotangent = f", {op.output_gradients}" if op.output_gradients else ""
        return f"_gradient({op.tape}, {op.target}, {op.source}{cotangent})"

    def _print_Jacobian(self, op: ir.Jacobian) -> str:
        self.helpers.add("jacobian")
        return f"_jacobian({op.tape}, {op.target}, {op.source})"

    def _print_CallFunction(self, op: ir.CallFunction) -> str:
        return f"{op.function}({', '.join(op.args)})"

    def _print_Cast(self, op: ir.Cast) -> str:
        return f"tf.cast({op.operand}, tf.{op.dtype})"

    def _print_GreaterThanZero(self, op: ir.GreaterThanZero) -> str:
        return f"tf.greater({op.operand}, 0)"


_SUM, _PRODUCT, _ATOM = 1, 2, 3
_PRECEDENCE = {ir.Add: _SUM, ir.Sub: _SUM, ir.Mul: _PRODUCT, ir.FloorDiv: _PRODUCT}


def escape_docstring(text: str) -> str:
    """`text` as the body of a `\"\"\"...\"\"\"` literal that reads back as `text`
    (with a space after a closing quote, which black adds anyway)."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text += " "  # else it runs into the closing quotes; black pads it so too
    # Control characters (NUL, ESC, ...) cannot stand in source; tabs and
    # line breaks are kept as they are.
    return "".join(_escape_control(char) for char in text)


def _escape_control(char: str) -> str:
    if char in "\n\t" or unicodedata.category(char) != "Cc":
        return char
    return f"\\x{ord(char):02x}"


def _render_statements(statements, printer: Printer, indent: str = "") -> list[str]:
    lines: list[str] = []
    for statement in statements:
        if isinstance(statement, ir.Assign):
            for line in statement.comment.splitlines():
                lines.append(f"{indent}# {line}")
            lines.append(f"{indent}{statement.target} = {printer.expr(statement.op)}")
        elif isinstance(statement, ir.Return):
            for line in statement.comment.splitlines():
                lines.append(f"{indent}# {line}")
            lines.append(f"{indent}return {printer.expr(statement.value)}")
        elif isinstance(statement, ir.RequireBool):
            printer.helpers.add("require_bool")
            lines.append(
                f'{indent}_require_bool({statement.operand}, "{statement.function}", "{statement.operand}")'
            )
        elif isinstance(statement, ir.CheckAxes):
            printer.helpers.add("check_axes")
            labels = statement.labels or statement.operands
            operands = ", ".join(f'("{label}", {name})' for label, name in zip(labels, statement.operands))
            sizes = ", ".join(f'"{letter}": {size}' for letter, size in statement.sizes)
            extra = f", sizes={{{sizes}}}" if sizes else ""
            targets = ", ".join(statement.targets)
            targets = f"({targets},)" if len(statement.targets) == 1 else targets
            lines.append(
                f'{indent}{targets} = _check_axes("{statement.function}", "{statement.spec}", [{operands}]{extra})'
            )
        elif isinstance(statement, ir.ChooseOrder):
            printer.helpers.add("static_sizes")
            assumed = ", ".join(f'"{letter}": {size}' for letter, size in statement.assumed)
            extra = f", assumed={{{assumed}}}" if assumed else ""
            lines.append(f"{indent}# The best order depends on sizes the compiler cannot see: pick it")
            lines.append(f"{indent}# from the static shapes while tracing ({DEFAULT_SIZE} where a size is unknown).")
            if statement.copy_cost:
                lines.append(
                    f"{indent}# Cost: multiply-adds, and {statement.copy_cost} per element a transpose copies."
                )
            lines.append(
                f'{indent}{", ".join(statement.size_names)} = _static_sizes("{statement.spec}", '
                f'{", ".join(statement.operands)}{extra})'
            )
            flops, order = statement.flops_name, statement.order_name
            lines.append(f"{indent}{flops} = [")
            for cost, label in zip(statement.costs, statement.labels):
                lines.append(f"{indent}    {printer.expr(cost)},  # {label}")
            lines.append(f"{indent}]")
            lines.append(f"{indent}{order} = {flops}.index(min({flops}))")
            for k, body in enumerate(statement.bodies):
                if k == 0:
                    lines.append(f"{indent}if {order} == 0:")
                elif k == len(statement.bodies) - 1:
                    lines.append(f"{indent}else:")
                else:
                    lines.append(f"{indent}elif {order} == {k}:")
                lines.extend(_render_statements(body, printer, indent + "    "))
        elif isinstance(statement, ir.EagerChoice):
            for line in statement.comment.splitlines():
                lines.append(f"{indent}# {line}")
            lines.append(f"{indent}# Eagerly, one Einsum op saves the reshapes' per-call cost.")
            lines.append(f"{indent}if tf.executing_eagerly():")
            lines.extend(_render_statements(statement.eager, printer, indent + "    "))
            lines.append(f"{indent}else:")
            graph_only, printer.graph_only = printer.graph_only, True
            lines.extend(_render_statements(statement.graph, printer, indent + "    "))
            printer.graph_only = graph_only
        elif isinstance(statement, ir.Tape):
            if statement.comment:
                lines.append(f"{indent}# {statement.comment}")
            persistent = "persistent=True" if statement.persistent else ""
            lines.append(f"{indent}with tf.GradientTape({persistent}) as {statement.tape}:")
            lines.append(f"{indent}    {statement.tape}.watch({statement.watch})")
            lines.extend(_render_statements(statement.body, printer, indent + "    "))
        else:
            raise InternalError("emit", f"no printer for {type(statement).__name__}")
    return lines


def render_function(function: ir.Function, printer: Printer) -> str:
    lines = _render_statements(function.body, printer)
    # Laid out as black lays out docstrings: the first line and trailing
    # spaces stripped, common indentation removed (inspect.cleandoc).
    lines_of_doc = [line.rstrip() for line in inspect.cleandoc(docstring_text(function.doc)).split("\n")]
    docstring = "\n".join(
        ("    " + line if line and k else line)
        for k, line in enumerate(escape_docstring("\n".join(lines_of_doc)).split("\n"))
    )
    if function.trace_when_eager:
        printer.helpers.add("trace_when_eager")
    return template_environment().get_template("function.py.j2").render(
        decorators=["_trace_when_eager"] if function.trace_when_eager else [],
        name=function.name,
        params=", ".join(
            f"{param}: {printer.hint(kind)}" if kind else param
            for param, kind in zip(function.params, function.param_types or [""] * len(function.params))
        ),
        returns=" -> tf.Tensor" if function.param_types else "",
        docstring=docstring,
        one_line_docstring="\n" not in docstring,  # black never splits those
        lines=lines,
    )
