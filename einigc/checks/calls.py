"""Calls: the values of declaration bodies (names, arities, builtin calls), recursion and call depth."""

from __future__ import annotations

from einigc import ein_ast as A
from einigc import model as M
from einigc.checks.names import did_you_mean
from einigc.checks.layout import stand_ins
from einigc.checks.specs import (
    check_spec,
    ellipsis_as_composite,
    ellipsis_beside_pair,
    operand_text,
    pair_jacobian,
    resolve_layout,
    walk_terms,
)
from einigc.ein_parser import BUILTINS
from einigc.targets import DEFAULT, TARGETS
from einigc.errors import DiagnosticSink, EinNameError, EinSyntaxError, EinUnsupportedError, Pos

# How deep declarations may call each other. The generated module makes one
# Python call per level; measured with Python's default recursion limit of
# 1000, a chain of about 490 runs under tf.function (autograph adds a frame
# per level) and 970 eagerly. 100 leaves room for deep callers (800 frames).
MAX_CALL_DEPTH = 100


class BodyChecker:
    """Checks one declaration's body and builds its model value (None where it has errors)."""

    def __init__(
        self,
        module: A.Module,
        declarations: dict,
        decl: A.Declaration,
        sizes,
        sink: DiagnosticSink,
        independent=(),
        target: str = DEFAULT,
    ):
        self.module = module
        self.declarations = declarations
        self.decl = decl
        self.sizes = sizes  # the valid `where` sizes, which layouts are resolved with
        self.independent = independent  # and the `independent` letters (eingrad's batch Jacobian)
        self.sink = sink
        self.target = TARGETS[target]  # eingrad needs one with automatic differentiation

    def value(self, expr: A.Expr) -> M.Value | None:
        if isinstance(expr, A.Ref):
            return self.reference(expr)
        if expr.func not in BUILTINS and expr.func not in self.declarations:
            self.unknown_function(expr)
            return None
        for stray in expr.stray_specs:
            where = "a declaration" if expr.func not in BUILTINS else f"'{expr.func}' after its first argument"
            quote = Pos(stray.pos.line, stray.pos.col - 1)
            self.sink.error(EinSyntaxError(quote, f"a spec string is not allowed as an argument of {where}"))
        args = [self.value(arg) for arg in expr.args]
        if expr.func in BUILTINS:
            return self.builtin_call(expr, args)
        callee = self.declarations[expr.func]
        if len(expr.args) != len(callee.params):
            self.sink.error(
                EinNameError(
                    expr.pos,
                    f"'{expr.func}' takes {len(callee.params)} argument(s) but is given {len(expr.args)}",
                )
            )
            return None
        if any(a is None for a in args):
            return None
        return M.DeclarationCall(expr.func, tuple(args), expr.pos)

    def reference(self, expr: A.Ref) -> M.Value | None:
        decl = self.decl
        if expr.name in {p.name for p in decl.params}:
            return M.ParamValue(expr.name, expr.pos)
        if expr.name in self.module.unparsed and expr.name not in self.declarations:
            return None  # its syntax error is reported
        if expr.name in self.declarations:
            self.sink.error(
                EinNameError(expr.pos, f"'{expr.name}' is a declaration, not a value", f"call it: {expr.name}(...)")
            )
        elif expr.name in BUILTINS:
            self.sink.error(EinNameError(expr.pos, f"'{expr.name}' must be called with a spec"))
        else:
            params = [p.name for p in decl.params]
            hint = did_you_mean(expr.name, params)
            hint = hint or f"the parameters of '{decl.name}' are: {', '.join(params) or 'none'}"
            self.sink.error(EinNameError(expr.pos, f"unknown name '{expr.name}'", hint))
        return None

    def builtin_call(self, expr: A.Call, args: list) -> M.BuiltinCall | None:
        if expr.spec_missing:
            self.sink.error(
                EinSyntaxError(
                    expr.pos,
                    f"'{expr.func}' needs a spec string as its first argument",
                    f'e.g. {expr.func}("ij,jk->ik", a, b)',
                )
            )
            return None
        if expr.func == "eingrad" and not self.target.autodiff:
            having = ", ".join(name for name, target in TARGETS.items() if target.autodiff)
            self.sink.error(
                EinUnsupportedError(
                    expr.pos,
                    f"eingrad needs automatic differentiation, which the {self.target.name} target does not have",
                    f"compile this file for a target that has it: {having}",
                )
            )
        checked = check_spec(expr, self.sink)
        if checked is None:
            return None
        inputs, output, implicit = checked
        ellipsis = ""
        if expr.func == "eingrad" and ellipsis_beside_pair(expr.spec):
            ellipsis = self.ellipsis_letter(inputs, output)
            if not ellipsis:
                first = next(t for op in inputs for t in walk_terms(op.terms) if isinstance(t, A.Ellipsis_))
                self.sink.error(
                    EinUnsupportedError(
                        first.pos,
                        "this spec uses all 26 capitals, which leaves none to name '...' beside '%'",
                        "use fewer composites, or write the axes of '...' as letters",
                    )
                )
                return None
            inputs, output = ellipsis_as_composite(inputs, output, ellipsis)
        # Resolved even when an argument has errors: its layout errors belong to the same pass.
        layouts = resolve_layout(
            expr.func, inputs, output, expr.spec.grad_pairs, self.sizes, self.sink, self.independent, ellipsis
        )
        if layouts is None or any(a is None for a in args):
            return None
        spec = expr.spec
        layout, jacobian, pair_layouts = layouts
        pairs = tuple(
            _pair_call(expr, inputs[p], inputs[q], (args[p], args[q]), resolved)
            for (p, q), resolved in zip(spec.grad_pairs, pair_layouts)
        )
        return M.BuiltinCall(
            expr.func,
            inputs,
            output,
            implicit,
            spec.grad_pairs,
            spec.text,
            tuple(args),
            expr.pos,
            spec.pos,
            layout,
            jacobian,
            pairs,
        )

    def ellipsis_letter(self, inputs, output) -> str:
        """The composite that `...` beside '%' becomes: a capital the spec and the `where` clause leave free ("" if none)."""
        taken = {t.letter for op in (*inputs, output) for t in walk_terms(op.terms) if isinstance(t, (A.Axis, A.Composite))}
        taken |= {hint.letter for hint in self.sizes}
        return next((c for c in stand_ins(taken) if c.isupper()), "")

    def unknown_function(self, expr: A.Call) -> None:
        """One error for a call of no builtin and no declaration: a spec string
        among its arguments is part of the same mistake (`einsun("i->", x)`)."""
        for arg in expr.args:
            self.value(arg)
        if expr.func in self.module.unparsed:
            return  # its syntax error is reported
        # Not the declaration itself: it cannot call itself.
        others = (name for name in self.declarations if name != self.decl.name)
        hint = did_you_mean(expr.func, [*BUILTINS, *others])
        if not hint:
            known = ", ".join(sorted(self.declarations)) or "none"
            hint = f"builtins are {', '.join(BUILTINS)}; declarations are: {known}"
        self.sink.error(EinNameError(expr.pos, f"unknown function '{expr.func}'", hint))


def specs_in(expr: A.Expr) -> list[A.Spec]:
    """The specs of the builtin calls in an expression (what its `where` clause may size)."""
    if isinstance(expr, A.Ref):
        return []
    found = [spec for arg in expr.args for spec in specs_in(arg)]
    if expr.func in BUILTINS and not expr.spec_missing:
        found.append(expr.spec)
    return found


def check_recursion(declarations: dict[str, A.Declaration], sink: DiagnosticSink) -> None:
    """Reports each cycle of calls once; without cycles, chains deeper than MAX_CALL_DEPTH."""
    calls: dict[str, list[tuple[str, Pos]]] = {}

    def collect(expr, out):
        if isinstance(expr, A.Call):
            if expr.func in declarations and expr.func not in BUILTINS:
                out.append((expr.func, expr.pos))
            for arg in expr.args:
                collect(arg, out)

    for name, decl in declarations.items():
        found: list[tuple[str, Pos]] = []
        collect(decl.body, found)
        calls[name] = found
    reported: set[str] = set()
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for callee, pos in calls.get(name, []):
            if state.get(callee) == 1:
                cycle = path[path.index(callee):] + [callee] if callee in path else [name, callee]
                if name not in reported:
                    reported.add(name)
                    sink.error(EinNameError(pos, "recursion is not allowed: " + " -> ".join(cycle)))
            elif state.get(callee) is None:
                visit(callee, path + [callee])
        state[name] = 2

    for name in declarations:
        if state.get(name) is None:
            visit(name, [name])
    if not reported:
        _check_call_depth(calls, sink)


def _check_call_depth(calls: dict[str, list[tuple[str, Pos]]], sink: DiagnosticSink) -> None:
    """Rejects chains of calls deeper than MAX_CALL_DEPTH, at the call that starts one."""
    depth: dict[str, int] = {}
    deepest: dict[str, tuple[str, Pos] | None] = {}
    for root in calls:
        stack = [root]
        while stack:  # depth first, without recursion: chains may be long
            name = stack[-1]
            pending = [callee for callee, _ in calls[name] if callee not in depth]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            best = max(calls[name], key=lambda call: depth[call[0]], default=None)
            depth[name] = 1 + (depth[best[0]] if best else 0)
            deepest[name] = best
    called = {callee for found in calls.values() for callee, _ in found}
    for name in calls:
        if name in called or depth[name] <= MAX_CALL_DEPTH:
            continue
        chain = [name]
        while deepest[chain[-1]] is not None:
            chain.append(deepest[chain[-1]][0])
        shown = chain if len(chain) <= 6 else chain[:3] + ["..."] + chain[-2:]
        sink.error(
            EinUnsupportedError(
                deepest[name][1],
                f"calls of declarations nest {depth[name]} deep here ({' -> '.join(shown)}); "
                f"at most {MAX_CALL_DEPTH} are allowed",
                "each level is one Python call in the generated module (two stack frames "
                "under tf.function, of Python's 1000); write some of them as one einsum",
            )
        )


def _pair_call(expr: A.Call, a: A.Operand, b: A.Operand, args, layouts) -> M.BuiltinCall:
    """One `%` pair of a spec with several, as its own eingrad `a%b->J`: the pair's Jacobian."""
    output = pair_jacobian(a, b)
    text = f"{operand_text(a)}%{operand_text(b)}->{operand_text(output)}"
    return M.BuiltinCall("eingrad", (a, b), output, False, ((0, 1),), text, args, expr.pos, expr.spec.pos, *layouts)
