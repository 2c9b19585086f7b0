"""Parser: `.ein` text to the syntax tree of ein_ast, with spec strings parsed in place."""

from __future__ import annotations

import inspect
import re
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from einigc import ein_ast as A
from einigc.errors import CompileErrors, DiagnosticSink, EinSyntaxError, EinUnsupportedError, Pos
from einigc.resources import grammar_path

BUILTINS = ("einsum", "eincount", "einany", "eingrad", "einmax", "einmin", "einlogsumexp")
# The einsums of other semirings: operands combined by +, contracted letters reduced by these.
SEMIRINGS = ("einmax", "einmin", "einlogsumexp")

# How deep parentheses may nest: calls in a declaration, and groups in a spec
# string, each counted on its own. Real specs nest a few levels; the limit
# keeps every pass (they recurse per level) fast and far from Python's
# recursion limit, and it is checked by a linear scan before parsing.
MAX_NESTING = 100

_BOM = "\ufeff"


def normalize(text: str) -> str:
    """The text as the grammar reads it: no leading byte-order mark, every line ending `\n`.

    `\r\n`, a lone `\r` and `\n` all end a line, as when Python reads a file;
    positions in diagnostics count lines of this text, so the quoted source
    lines must be taken from it too (`source_lines`).
    """
    if text.startswith(_BOM):
        text = text[len(_BOM) :]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def source_lines(text: str) -> list[str]:
    """The lines of `text` as diagnostics number and quote them."""
    return normalize(text).split("\n")


# How each terminal of the grammars is called in messages.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "INT": "a whole number",
    "STRING": "a spec string",
    "DOCSTRING": "a docstring",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "EQUAL": "'='",
    "TILDE": "'~'",
    "WHERE": "'where'",
    "INDEPENDENT": "'independent'",
    "ARROW": "'->'",
    "GRAD": "'%'",
    "AXIS": "an axis letter",
    "COMPOSITE": "a composite letter",
    "ELLIPSIS": "'...'",
    "UNIT": "'_'",
    "$END": "the end",
}


@lru_cache(maxsize=None)
def _declarations_parser() -> Lark:
    return Lark(
        grammar_path("ein.lark").read_text(encoding="utf-8"),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


@lru_cache(maxsize=None)
def _spec_parser() -> Lark:
    return Lark(
        grammar_path("spec.lark").read_text(encoding="utf-8"),
        start="spec",
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def _describe_expected(expected: set[str]) -> str:
    words = sorted({_TERMINAL_WORDS.get(name, repr(name.lower())) for name in expected})
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of input"
    return repr(str(token))


def _end_pos(text: str) -> tuple[int, int]:
    """Line and column just past the last non-blank character of `text`."""
    stripped = text.rstrip()
    line = stripped.count("\n") + 1
    col = len(stripped) - (stripped.rfind("\n") + 1) + 1
    return line, col


def _unclosed_group(text: str, upto: int) -> int | None:
    """The offset of the last '(' not closed before `upto`, if any."""
    open_at: list[int] = []
    for offset, char in enumerate(text[:upto]):
        if char == "(":
            open_at.append(offset)
        elif char == ")" and open_at:
            open_at.pop()
    return open_at[-1] if open_at else None


def _expected(exc: UnexpectedToken) -> set[str]:
    # The interactive parser knows exactly which terminals can come next.
    try:
        return set(exc.interactive_parser.accepts()) - {"COMMENT"}
    except Exception:  # noqa: BLE001 - fall back to lark's approximation
        return set(exc.expected)


def _syntax_error(exc: UnexpectedInput, origin: Pos, where: str, text: str, last: bool = True) -> EinSyntaxError:
    """Turns a lark failure into a positioned error; `origin` maps spec-relative columns.

    `text` is one declaration of the file (`last`: the file's last); its end
    is the end of the declaration, not of the file, when another follows.
    """

    def at(line: int, col: int) -> Pos:
        if where == "spec":
            return Pos(origin.line, origin.col + col - 1)
        return Pos(line, col)

    if isinstance(exc, UnexpectedCharacters):
        char = exc.char
        pos = at(exc.line, exc.column)
        if where == "spec":
            if char == "-":
                return EinSyntaxError(pos, "'-' must be followed by '>' to make '->'")
            if char == ".":
                return EinSyntaxError(pos, "an ellipsis is exactly three dots: '...'")
            if char.isdigit():
                return EinSyntaxError(
                    pos,
                    f"unexpected {char!r} in a spec: axes are letters",
                    "sizes go in a `where` clause, e.g. `where j = 4`",
                )
            return EinSyntaxError(
                pos,
                f"unexpected character {char!r} in a spec",
                "a spec holds letters, '...', '_', '(', ')', ',', '%' and '->'",
            )
        if char in "\"'":
            return EinSyntaxError(pos, "unterminated spec string", "close it on the same line")
        return EinSyntaxError(pos, f"unexpected character {char!r}")
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        expected_set = _expected(exc)
        expected = _describe_expected(expected_set)
        if token.type == "$END":
            line, col = _end_pos(text)
            pos = at(line, col)
        else:
            pos = at(token.line, token.column)
        found = _describe_token(token)
        if where == "spec":
            offset = len(text) if token.type == "$END" else token.start_pos
            unclosed = _unclosed_group(text, offset)
            if unclosed is not None and token.type in ("ARROW", "$END", "COMMA", "GRAD"):
                return EinSyntaxError(
                    Pos(origin.line, origin.col + unclosed),
                    "unclosed group: this '(' has no matching ')'",
                )
            if token.type == "ARROW":
                return EinSyntaxError(pos, "a spec has at most one '->'")
            if token.type == "RPAR":
                return EinSyntaxError(pos, "')' closes no group")
            if token.type in ("COMMA", "GRAD") and "ARROW" not in expected_set:
                return EinSyntaxError(
                    pos, "the output is a single operand: no ',' or '%' after '->'"
                )
        if token.type == "DOCSTRING":
            return EinSyntaxError(pos, "only the first statement of the file can be a docstring")
        if token.type in ("EQUAL", "TILDE", "INDEPENDENT") and "LPAR" in expected_set:
            return EinSyntaxError(pos, f"unexpected {found}; expected {expected}", _name_then_equal_hint(token, text))
        if token.type == "$END":
            end = "file" if last else "declaration"
            return EinSyntaxError(pos, f"unexpected end of {end}; expected {expected}")
        return EinSyntaxError(pos, f"unexpected {found}; expected {expected}")
    return EinSyntaxError(origin, "invalid syntax")


def _name_then_equal_hint(token: Token, text: str) -> str:
    """`NAME =` where a declaration's '(' belongs: a `where` item after one
    without ',' (`i = 3 j = 2`), or a declaration without parameters."""
    if token.type != "EQUAL" or re.match(r"\s*[0-9]", text[token.end_pos :]):
        return "separate `where` items with ','"
    name = re.search(r"([A-Za-z_][A-Za-z_0-9]*)\s*$", text[: token.start_pos])
    name = name.group(1) if name else "f"
    return f"a declaration needs a parameter list: {name}(x) = ..."


def _size(token: Token) -> int:
    # Python refuses to convert very long digit strings; anything this long
    # is too large for an axis anyway, which the checks report.
    return int(token) if len(token) <= 30 else 2**100


def _tok_pos(token: Token) -> Pos:
    return Pos(token.line, token.column)


class _SpecBuilder(Transformer):
    """Builds spec nodes; `origin` is the position of the string's first character."""

    def __init__(self, origin: Pos, text: str):
        super().__init__()
        self.origin = origin
        self.text = text

    def _at(self, token: Token) -> Pos:
        return Pos(self.origin.line, self.origin.col + token.column - 1)

    def axis(self, children):
        (tok,) = children
        return A.Axis(str(tok), self._at(tok))

    def composite(self, children):
        (tok,) = children
        return A.Composite(str(tok), self._at(tok))

    def ellipsis(self, children):
        (tok,) = children
        return A.Ellipsis_(self._at(tok))

    def unit(self, children):
        (tok,) = children
        return A.Unit(self._at(tok))

    def group(self, children):
        lpar, *terms, _rpar = children
        if not terms:
            # `()` is an empty group: one axis of size 1, exactly like `_`.
            return A.Unit(self._at(lpar))
        return A.Group(tuple(terms), self._at(lpar))

    def operand(self, children):
        return list(children)

    def inputs(self, children):
        return children

    def spec(self, children):
        raw_inputs = children[0]
        operands: list[A.Operand] = []
        grad_pairs: list[tuple[int, int]] = []
        grad_positions: list[Pos] = []
        after = self.origin  # where an empty operand is reported
        for item in raw_inputs:
            if isinstance(item, Token):
                if item.type == "GRAD":
                    grad_pairs.append((len(operands) - 1, len(operands)))
                    grad_positions.append(Pos(self.origin.line, self._at(item).col + len(item) - 1))
                after = Pos(self.origin.line, self._at(item).col + len(item))
            else:
                operands.append(A.Operand(tuple(item), item[0].pos if item else after))
        output = None
        arrow_pos = None
        if len(children) == 3:
            arrow, out_terms = children[1], children[2]
            arrow_pos = self._at(arrow)
            empty_at = Pos(arrow_pos.line, arrow_pos.col + 2)
            output = A.Operand(tuple(out_terms), out_terms[0].pos if out_terms else empty_at)
        return A.Spec(
            tuple(operands),
            output,
            tuple(grad_pairs),
            self.text,
            self.origin,
            arrow_pos,
            tuple(grad_positions),
        )


def parse_spec(text: str, origin: Pos) -> A.Spec:
    """Parses one spec string whose first character sits at `origin`."""
    try:
        tree = _spec_parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, origin, "spec", text) from None
    return _SpecBuilder(origin, text).transform(tree)


@v_args(meta=True)
class _DeclarationBuilder(Transformer):
    """Builds declaration nodes; spec strings are parsed as they are met."""

    def __init__(self, comments: dict[int, str], lines: list[str], text: str):
        super().__init__()
        self.text = text
        self.comments_by_line = comments
        self.lines = lines
        self.spec_errors: list[EinSyntaxError] = []

    def _doc_comment(self, line: int) -> str:
        collected: list[str] = []
        current = line - 1
        while current in self.comments_by_line:
            comment = self.comments_by_line[current]
            if self.lines[current - 1].strip() != comment.strip():
                break  # a comment after code is not a doc comment
            text = comment[1:]
            collected.append(text[1:] if text.startswith(" ") else text)
            current -= 1
        return "\n".join(reversed(collected)).strip("\n")

    def module_doc(self, meta, children):
        (tok,) = children
        return ("docstring", inspect.cleandoc(str(tok)[3:-3]))

    def param(self, meta, children):
        (tok,) = children
        return A.Param(str(tok), _tok_pos(tok))

    def ref(self, meta, children):
        (tok,) = children
        return A.Ref(str(tok), _tok_pos(tok))

    def spec(self, meta, children):
        (tok,) = children
        origin = Pos(tok.line, tok.column + 1)
        try:
            return parse_spec(str(tok)[1:-1], origin)
        except EinSyntaxError as err:
            self.spec_errors.append(err)
            return A.Spec((), None, (), str(tok)[1:-1], origin)

    def call(self, meta, children):
        name_tok, *args = children
        spec = None
        stray: list[A.Spec] = []
        exprs: list[A.Expr] = []
        for index, arg in enumerate(args):
            if isinstance(arg, A.Spec):
                if index == 0 and str(name_tok) in BUILTINS:
                    spec = arg
                else:
                    stray.append(arg)
            else:
                exprs.append(arg)
        missing = str(name_tok) in BUILTINS and spec is None
        return A.Call(str(name_tok), spec, tuple(exprs), _tok_pos(name_tok), tuple(stray), missing)

    def size_exact(self, meta, children):
        name, value = children
        return A.SizeExact(str(name), _size(value), _tok_pos(name))

    def size_typical(self, meta, children):
        name, value = children
        return A.SizeTypical(str(name), _size(value), _tok_pos(name))

    def independent(self, meta, children):
        (name,) = children
        return A.Independent(str(name), _tok_pos(name))

    def where_clause(self, meta, children):
        return ("where", tuple(children))

    def decl(self, meta, children):
        name_tok, *rest = children
        params = tuple(c for c in rest if isinstance(c, A.Param))
        where: tuple = ()
        body = None
        for c in rest:
            if isinstance(c, tuple) and c and c[0] == "where":
                where = c[1]
            elif isinstance(c, (A.Ref, A.Call)):
                body = c
        pos = _tok_pos(name_tok)
        source = self.text[meta.start_pos : meta.end_pos]
        source = " ".join(re.sub(r"#[^\n]*", "", source).split())
        return A.Declaration(
            str(name_tok),
            params,
            body,
            where,
            self._doc_comment(pos.line),
            pos,
            source,
        )

    def start(self, meta, children):
        docstring = ""
        decls = []
        for c in children:
            if isinstance(c, tuple) and c[0] == "docstring":
                docstring = c[1]
            else:
                decls.append(c)
        return A.Module(docstring, tuple(decls))


def _too_deep(pos: Pos, what: str, hint: str) -> CompileErrors:
    error = EinUnsupportedError(
        pos, f"{what} nest more than {MAX_NESTING} deep here", f"einigc allows {MAX_NESTING} levels; {hint}"
    )
    return CompileErrors([error.diagnostic])


def _check_nesting(text: str) -> None:
    """Rejects parentheses nested beyond MAX_NESTING, at the first one too deep.

    A linear scan of the tokens, before parsing: the parser and every pass
    recurse once per level, which is slow and can overflow the stack.
    """
    depth = 0
    try:
        for tok in _declarations_parser().lex(text, dont_ignore=False):
            if tok.type == "LPAR":
                depth += 1
                if depth > MAX_NESTING:
                    raise _too_deep(_tok_pos(tok), "calls", "make an inner call a declaration of its own")
            elif tok.type == "RPAR":
                depth = max(depth - 1, 0)
            elif tok.type == "STRING":
                _check_spec_nesting(tok)
    except UnexpectedInput:
        return  # the parser reports it, with its position


def _check_spec_nesting(tok: Token) -> None:
    depth = 0
    for offset, char in enumerate(str(tok)):
        if char == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise _too_deep(Pos(tok.line, tok.column + offset), "groups", "flatten some of them")
        elif char == ")":
            depth = max(depth - 1, 0)


# A declaration starts at column 1 with its name and parameter list and '=',
# which neither a body nor a `where` item has (the ')' may be missing, an
# error of its own); or with `NAME =` and no number after it (a declaration
# without parameters, an error too).
_PARAMS = r"\((?:[^()\"'#=]|#[^\n]*(?:\n|$))*\)?\s*="  # a comment runs to its line's end: no backtracking
_DECLARATION_HEAD = re.compile(rf"\b(?P<name>[A-Za-z_][A-Za-z_0-9]*)[ \t]*(?:{_PARAMS}|=(?![ \t]*[0-9]))")
_DECLARATION_NAME = re.compile(rf"\b(?P<name>[A-Za-z_][A-Za-z_0-9]*)[ \t]*{_PARAMS}")
# What can hide a line start or a '#': docstrings span lines; strings do not.
_LEXEMES = re.compile(r"(?P<doc>\"\"\"[\s\S]*?\"\"\"|'\'\'[\s\S]*?'\'\')|\"[^\"\n]*\"|'[^'\n]*'|(?P<comment>#[^\n]*)")


def _scan(text: str) -> tuple[list[tuple[int, int]], dict[int, str]]:
    """The spans of the docstrings of `text`, and its comments by line."""
    docstrings: list[tuple[int, int]] = []
    comments: dict[int, str] = {}
    for match in _LEXEMES.finditer(text):
        if match["doc"]:
            docstrings.append(match.span())
        elif match["comment"]:
            comments[text.count("\n", 0, match.start()) + 1] = match["comment"]
    return docstrings, comments


def _declaration_starts(text: str, docstrings: list[tuple[int, int]]) -> list[int]:
    """Offsets where the text is cut into declarations, each parsed on its own
    so that a syntax error in one hides no error of the others."""
    starts = [0]
    offset = text.find("\n") + 1
    while offset > 0:
        head = _DECLARATION_HEAD.match(text, offset)
        if head and head["name"] not in ("where", "independent"):
            if not any(start < offset < end for start, end in docstrings):
                starts.append(offset)
        offset = text.find("\n", offset) + 1
    return starts


def _parse_part(padded: str, last: bool, comments: dict[int, str], lines: list[str]):
    """(module, errors) of one part of the file, `padded` with blank lines up to it."""
    try:
        tree = _declarations_parser().parse(padded)
    except UnexpectedInput as exc:
        return None, [_syntax_error(exc, Pos(1, 1), "file", padded, last)]
    builder = _DeclarationBuilder(comments, lines, padded)
    try:
        module = builder.transform(tree)
    except VisitError as exc:
        raise exc.orig_exc from None  # lark wraps what a callback raised
    if builder.spec_errors:
        return None, builder.spec_errors
    return module, []


def _declared_names(part: str) -> list[str]:
    """The names of the declarations that a part which did not parse seems to hold."""
    head = _DECLARATION_HEAD.match(part)
    names = ([head["name"]] if head else []) + [m["name"] for m in _DECLARATION_NAME.finditer(part)]
    return [name for name in names if name not in BUILTINS]


def parse(text: str, sink: DiagnosticSink | None = None) -> A.Module:
    """Parses a whole file, one declaration at a time.

    Without a `sink`, raises CompileErrors with every syntax error found; with
    one, puts them there and returns the declarations that parsed, naming
    those that did not in `unparsed`.
    """
    text = normalize(text)
    _check_nesting(text)
    docstrings, comments = _scan(text)
    lines = text.split("\n")
    starts = _declaration_starts(text, docstrings)
    docstring = ""
    declarations: list[A.Declaration] = []
    unparsed: list[str] = []
    errors: list[EinSyntaxError] = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        part = text[start:end]
        # Leading line breaks keep lines and columns those of the file.
        padded = "\n" * text.count("\n", 0, start) + part
        module, part_errors = _parse_part(padded, end == len(text), comments, lines)
        if module is None:
            errors.extend(part_errors)
            unparsed.extend(_declared_names(part))
            continue
        docstring = docstring or module.docstring
        declarations.extend(module.declarations)
    if sink is None:
        if errors:
            raise CompileErrors([err.diagnostic for err in errors])
    else:
        for err in errors:
            sink.error(err)
    return A.Module(docstring, tuple(declarations), tuple(dict.fromkeys(unparsed)))
