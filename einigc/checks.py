"""Semantic checks: names, arities, specs and `where` clauses; builds the checked model."""

from __future__ import annotations

import builtins
import difflib
import keyword
import re

from einigc import ein_ast as A
from einigc import model as M
from einigc.errors import (
    DiagnosticSink,
    EinAxisError,
    EinNameError,
    EinSyntaxError,
    EinUnsupportedError,
    Pos,
)
from einigc.ein_parser import BUILTINS
from einigc.targets import runtime_source

# What the generated module's header binds: `import tensorflow as tf`, the
# standard-library names that emit adds when the code needs them, `__all__`.
_HEADER_NAMES = ("tf", "tensorflow", "functools", "math", "Callable", "__all__")


def _module_names() -> frozenset[str]:
    """Every name the generated module binds at top level: its imports and all
    that its helpers define, read from the target's runtime module."""
    return frozenset(_HEADER_NAMES) | runtime_source.runtime("tensorflow").bound_names()


# A declaration of one of these would replace it, and break the module.
MODULE_NAMES = _module_names()

# How deep declarations may call each other. The generated module makes one
# Python call per level; measured with Python's default recursion limit of
# 1000, a chain of about 490 runs under tf.function (autograph adds a frame
# per level) and 970 eagerly. 100 leaves room for deep callers (800 frames).
MAX_CALL_DEPTH = 100


def _name_problem(name: str) -> str:
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"'{name}' is a Python keyword"
    if name in BUILTINS:
        return f"'{name}' is an einigc builtin"
    if name in MODULE_NAMES:
        return f"'{name}' is a name the generated module itself uses"
    if name in dir(builtins):
        return f"'{name}' is a Python builtin"
    if name.startswith("__"):
        return f"'{name}' starts with '__', which Python reserves"
    return ""


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def _operand_count_hint(spec: A.Spec, args: int) -> str:
    inputs, arrow, output = spec.text.partition("->")
    parts = re.split(r"([,%])", inputs)  # operands, and the separators between them
    if len(spec.inputs) < args and any(len(part.split()) > 1 for part in parts):
        fixed = "".join(",".join(part.split()) for part in parts) + arrow + "".join(output.split())
        return f"whitespace does not separate operands: write '{fixed}'"
    return "give one argument per operand of the spec"


def _walk_terms(terms):
    for term in terms:
        yield term
        if isinstance(term, A.Group):
            yield from _walk_terms(term.terms)


def spec_letters(spec_terms) -> list[A.Axis]:
    return [t for t in _walk_terms(spec_terms) if isinstance(t, A.Axis)]


def _implicit_output(inputs: tuple[A.Operand, ...], pos: Pos) -> A.Operand:
    """numpy's implicit mode: letters that appear once, sorted; `...` first."""
    counts: dict[str, int] = {}
    first: dict[str, A.Axis | A.Composite] = {}
    has_ellipsis = False
    for operand in inputs:
        for term in _walk_terms(operand.terms):
            if isinstance(term, (A.Axis, A.Composite)):
                counts[term.letter] = counts.get(term.letter, 0) + 1
                first.setdefault(term.letter, term)
            elif isinstance(term, A.Ellipsis_):
                has_ellipsis = True
    terms: list[A.Term] = [A.Ellipsis_(pos)] if has_ellipsis else []
    for letter in sorted(counts):
        if counts[letter] == 1:
            term = first[letter]
            terms.append(type(term)(letter, pos))
    return A.Operand(tuple(terms), pos)


class _Checker:
    def __init__(self, module: A.Module, sink: DiagnosticSink):
        self.module = module
        self.sink = sink
        self.declarations: dict[str, A.Declaration] = {}

    def error(self, err) -> None:
        self.sink.error(err)

    # --- names ----------------------------------------------------------

    def check_names(self) -> None:
        for decl in self.module.declarations:
            problem = _name_problem(decl.name)
            if problem:
                self.error(
                    EinNameError(decl.pos, f"{problem}; it cannot name a declaration", "rename it")
                )
            if decl.name in self.declarations:
                first = self.declarations[decl.name].pos
                self.error(
                    EinNameError(
                        decl.pos,
                        f"declaration '{decl.name}' is already defined at line {first.line}",
                        "rename one of them",
                    )
                )
            else:
                self.declarations[decl.name] = decl
        for decl in self.module.declarations:
            seen: set[str] = set()
            for param in decl.params:
                problem = _name_problem(param.name)
                if problem:
                    self.error(
                        EinNameError(param.pos, f"{problem}; it cannot name a parameter", "rename it")
                    )
                if param.name in seen:
                    self.error(
                        EinNameError(
                            param.pos, f"parameter '{param.name}' appears twice in '{decl.name}'"
                        )
                    )
                seen.add(param.name)
                if param.name in self.declarations:
                    self.error(
                        EinNameError(
                            param.pos,
                            f"parameter '{param.name}' has the name of a declaration",
                            "rename the parameter",
                        )
                    )

    # --- expressions ----------------------------------------------------

    def check_value(self, expr: A.Expr, decl: A.Declaration, specs: list) -> M.Value | None:
        if isinstance(expr, A.Ref):
            if expr.name in {p.name for p in decl.params}:
                return M.ParamValue(expr.name, expr.pos)
            if expr.name in self.module.unparsed and expr.name not in self.declarations:
                return None  # its syntax error is reported
            if expr.name in self.declarations:
                self.error(
                    EinNameError(
                        expr.pos,
                        f"'{expr.name}' is a declaration, not a value",
                        f"call it: {expr.name}(...)",
                    )
                )
            elif expr.name in BUILTINS:
                self.error(EinNameError(expr.pos, f"'{expr.name}' must be called with a spec"))
            else:
                params = [p.name for p in decl.params]
                hint = _did_you_mean(expr.name, params)
                hint = hint or f"the parameters of '{decl.name}' are: {', '.join(params) or 'none'}"
                self.error(EinNameError(expr.pos, f"unknown name '{expr.name}'", hint))
            return None
        if expr.func not in BUILTINS and expr.func not in self.declarations:
            self.unknown_function(expr, decl, specs)
            return None
        for stray in expr.stray_specs:
            where = "a declaration" if expr.func not in BUILTINS else f"'{expr.func}' after its first argument"
            quote = Pos(stray.pos.line, stray.pos.col - 1)
            self.error(EinSyntaxError(quote, f"a spec string is not allowed as an argument of {where}"))
        args = [self.check_value(arg, decl, specs) for arg in expr.args]
        if expr.func in BUILTINS:
            if expr.spec_missing:
                self.error(
                    EinSyntaxError(
                        expr.pos,
                        f"'{expr.func}' needs a spec string as its first argument",
                        f'e.g. {expr.func}("ij,jk->ik", a, b)',
                    )
                )
                return None
            specs.append(expr.spec)
            checked = self.check_spec(expr)
            if checked is None or any(a is None for a in args):
                return None
            inputs, output, implicit = checked
            return M.BuiltinCall(
                expr.func,
                inputs,
                output,
                implicit,
                expr.spec.grad_pairs,
                expr.spec.text,
                tuple(args),
                expr.pos,
                expr.spec.pos,
            )
        callee = self.declarations[expr.func]
        if len(expr.args) != len(callee.params):
            self.error(
                EinNameError(
                    expr.pos,
                    f"'{expr.func}' takes {len(callee.params)} argument(s) but is given {len(expr.args)}",
                )
            )
            return None
        if any(a is None for a in args):
            return None
        return M.DeclarationCall(expr.func, tuple(args), expr.pos)

    def unknown_function(self, expr: A.Call, decl: A.Declaration, specs: list) -> None:
        """One error for a call of no builtin and no declaration: a spec string
        among its arguments is part of the same mistake (`einsun("i->", x)`)."""
        for arg in expr.args:
            self.check_value(arg, decl, specs)
        if expr.func in self.module.unparsed:
            return  # its syntax error is reported
        # Not `decl` itself: it cannot call itself.
        hint = _did_you_mean(expr.func, [*BUILTINS, *(name for name in self.declarations if name != decl.name)])
        if not hint:
            known = ", ".join(sorted(self.declarations)) or "none"
            hint = f"builtins are {', '.join(BUILTINS)}; declarations are: {known}"
        self.error(EinNameError(expr.pos, f"unknown function '{expr.func}'", hint))

    # --- specs ----------------------------------------------------------

    def check_spec(self, call: A.Call):
        spec = call.spec
        ok = True
        if len(spec.inputs) != len(call.args):
            pos = call.args[len(spec.inputs)].pos if len(call.args) > len(spec.inputs) else call.pos
            self.error(
                EinAxisError(
                    pos,
                    f"spec '{spec.text}' has {len(spec.inputs)} operand(s) but "
                    f"{len(call.args)} argument(s) follow it",
                    _operand_count_hint(spec, len(call.args)),
                )
            )
            ok = False
        if call.func == "eingrad":
            if not spec.grad_pairs:
                self.error(
                    EinAxisError(
                        spec.pos,
                        "an eingrad spec needs a '%' between the differentiated operand and the variable",
                        'e.g. eingrad("i%j->ij", y, x)',
                    )
                )
                return None
            if len(spec.grad_pairs) > 1:
                self.error(
                    EinUnsupportedError(
                        spec.grad_positions[1],
                        "an eingrad spec may hold one '%' only",
                        "nest eingrad calls for higher derivatives",
                    )
                )
                ok = False
            for left_index, right_index in spec.grad_pairs[:1]:
                for index in (left_index, right_index):
                    for term in _walk_terms(spec.inputs[index].terms):
                        if isinstance(term, A.Ellipsis_):
                            self.error(
                                EinUnsupportedError(
                                    term.pos,
                                    "'...' beside '%' is not supported",
                                    "name the axes, or use a composite (an uppercase letter)",
                                )
                            )
                            ok = False
                if len(spec.inputs) == len(call.args):
                    ok &= self.check_grad_operands(call, left_index, right_index)
        else:
            for gpos in spec.grad_positions:
                self.error(
                    EinAxisError(gpos, f"'%' is only meaningful in eingrad, not in {call.func}", "use ','")
                )
                ok = False
        # An output `...` that no input has stands for no axes, as in numpy.
        letters_in_inputs: dict[str, A.Term] = {}
        for operand in spec.inputs:
            ok &= self.check_operand(operand, "input")
            for term in _walk_terms(operand.terms):
                if isinstance(term, (A.Axis, A.Composite)):
                    letters_in_inputs.setdefault(term.letter, term)
        if spec.output is None:
            output = _implicit_output(spec.inputs, spec.pos)
            implicit = True
        else:
            output = spec.output
            implicit = False
            ok &= self.check_operand(output, "output")
            for term in _walk_terms(output.terms):
                if isinstance(term, (A.Axis, A.Composite)) and term.letter not in letters_in_inputs:
                    kind = "axis" if isinstance(term, A.Axis) else "composite"
                    self.error(
                        EinAxisError(
                            term.pos,
                            f"output {kind} '{term.letter}' appears in no input",
                            "every output letter must come from an input operand",
                        )
                    )
                    ok = False
        if not ok:
            return None
        return spec.inputs, output, implicit

    def check_grad_operands(self, call: A.Call, left_index: int, right_index: int) -> bool:
        left, right = call.args[left_index], call.args[right_index]
        if not isinstance(right, A.Ref):
            self.error(
                EinAxisError(
                    right.pos,
                    "the operand right of '%' must be a parameter: the variable to differentiate by",
                )
            )
            return False
        if isinstance(left, A.Ref):
            if left.name == right.name:
                self.error(
                    EinAxisError(
                        left.pos,
                        f"'{left.name}' is differentiated by itself",
                        "the operand left of '%' is a callable parameter or an expression using the variable",
                    )
                )
                return False
            return True

        def uses(expr) -> bool:
            if isinstance(expr, A.Ref):
                return expr.name == right.name
            return any(uses(arg) for arg in expr.args)

        if not uses(left):
            self.error(
                EinAxisError(
                    left.pos,
                    f"this expression does not use '{right.name}', so its derivative is zero",
                    f"differentiate an expression of '{right.name}', or pass a callable parameter",
                )
            )
            return False
        return True

    def check_operand(self, operand: A.Operand, role: str) -> bool:
        ok = True
        ellipses = [t for t in _walk_terms(operand.terms) if isinstance(t, A.Ellipsis_)]
        for extra in ellipses[1:]:
            self.error(
                EinAxisError(extra.pos, f"an {role} operand may hold '...' only once")
            )
            ok = False
        return ok

    # --- where ----------------------------------------------------------

    def check_where(self, decl: A.Declaration, specs: list, has_grad: bool):
        shared = {
            axis.letter
            for spec in specs
            for left, right in spec.grad_pairs
            if left < len(spec.inputs) and right < len(spec.inputs)
            for axis in spec_letters(spec.inputs[left].terms)
            if axis.letter in {a.letter for a in spec_letters(spec.inputs[right].terms)}
        }
        letters = {
            axis.letter
            for spec in specs
            for operand in (*spec.inputs, *((spec.output,) if spec.output else ()))
            for axis in spec_letters(operand.terms)
        }
        seen: dict[str, A.WhereItem] = {}
        sizes: list[M.SizeHint] = []
        independent: list[str] = []
        for item in decl.where:
            letter = item.letter
            if len(letter) != 1 or not letter.islower():
                what = "a composite has no single size" if len(letter) == 1 else "a spec axis is one letter"
                self.error(
                    EinAxisError(item.pos, f"'{letter}' is not an axis letter: {what}")
                )
                continue
            if letter not in letters:
                shown = ", ".join(sorted(letters)) or "none"
                self.error(
                    EinAxisError(
                        item.pos,
                        f"'{letter}' names no axis of the specs in '{decl.name}'",
                        f"the axes are: {shown}",
                    )
                )
                continue
            if isinstance(item, A.Independent):
                if not has_grad:
                    self.error(
                        EinAxisError(
                            item.pos,
                            f"'{letter} independent' only applies to eingrad",
                            "remove it",
                        )
                    )
                    continue
                if letter in independent:
                    self.error(EinAxisError(item.pos, f"'{letter} independent' is said twice"))
                    continue
                if letter not in shared:
                    self.error(
                        EinAxisError(
                            item.pos,
                            f"'{letter}' is not shared across '%', so '{letter} independent' means nothing",
                            "independence is about a letter on both sides of '%', as in b%bj",
                        )
                    )
                    continue
                independent.append(letter)
                continue
            if letter in seen:
                first = seen[letter]
                self.error(
                    EinAxisError(
                        item.pos,
                        f"'{letter}' already has a size at line {first.pos.line}, column {first.pos.col}",
                        "give each axis one size",
                    )
                )
                continue
            if item.size < 1:
                self.error(EinAxisError(item.pos, f"the size of '{letter}' must be at least 1"))
                continue
            if item.size >= 2**62:
                self.error(
                    EinAxisError(item.pos, f"the size of '{letter}' is too large: at most 2**62 - 1")
                )
                continue
            seen[letter] = item
            sizes.append(M.SizeHint(letter, item.size, isinstance(item, A.SizeExact), item.pos))
        return tuple(sizes), tuple(independent)

    def check_params_used(self, decl: A.Declaration) -> None:
        used: set[str] = set()
        stack = [decl.body]
        while stack:
            expr = stack.pop()
            if isinstance(expr, A.Ref):
                used.add(expr.name)
            elif isinstance(expr, A.Call):
                stack.extend(expr.args)
        for param in decl.params:
            if param.name not in used:
                self.sink.warning(
                    param.pos,
                    f"parameter '{param.name}' of '{decl.name}' is not used",
                    "remove it, or use it in the body",
                )

    # --- recursion ------------------------------------------------------

    def check_recursion(self) -> None:
        calls: dict[str, list[tuple[str, Pos]]] = {}

        def collect(expr, out):
            if isinstance(expr, A.Call):
                if expr.func in self.declarations and expr.func not in BUILTINS:
                    out.append((expr.func, expr.pos))
                for arg in expr.args:
                    collect(arg, out)

        for name, decl in self.declarations.items():
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
                        self.error(
                            EinNameError(
                                pos,
                                "recursion is not allowed: " + " -> ".join(cycle),
                            )
                        )
                elif state.get(callee) is None:
                    visit(callee, path + [callee])
            state[name] = 2

        for name in self.declarations:
            if state.get(name) is None:
                visit(name, [name])
        if not reported:
            self.check_call_depth(calls)

    def check_call_depth(self, calls: dict[str, list[tuple[str, Pos]]]) -> None:
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
            self.error(
                EinUnsupportedError(
                    deepest[name][1],
                    f"calls of declarations nest {depth[name]} deep here ({' -> '.join(shown)}); "
                    f"at most {MAX_CALL_DEPTH} are allowed",
                    "each level is one Python call in the generated module (two stack frames "
                    "under tf.function, of Python's 1000); write some of them as one einsum",
                )
            )

    def run(self) -> M.Program:
        self.check_names()
        self.check_recursion()
        functions = []
        for decl in self.module.declarations:
            specs: list[A.Spec] = []
            body = self.check_value(decl.body, decl, specs)
            has_grad = any(s.grad_pairs for s in specs)
            sizes, independent = self.check_where(decl, specs, has_grad)
            self.check_params_used(decl)
            if body is not None:
                functions.append(
                    M.Function(
                        decl.name,
                        tuple(p.name for p in decl.params),
                        body,
                        sizes,
                        independent,
                        decl.doc,
                        decl.pos,
                        decl.source_line,
                    )
                )
        self.sink.raise_if_errors()
        return M.Program(self.module.docstring, tuple(functions))


def check(module: A.Module, sink: DiagnosticSink | None = None) -> M.Program:
    """Checks a parsed module; raises CompileErrors with every problem found."""
    return _Checker(module, sink or DiagnosticSink()).run()
