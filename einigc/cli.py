"""The `einigc` command: compile `.ein` files, then write every generated module atomically.

Every source is compiled before anything is written, so that a run either
writes all of its modules or, when any source has an error, none.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import re
import stat
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from einigc import __version__, config

if TYPE_CHECKING:
    from einigc.compiler import Result

EXIT_OK, EXIT_STALE, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3
# stdout closed early (`einigc a.ein -o - | head`): stop quietly with the
# status of a Unix tool killed by SIGPIPE (128 + 13), as `cat` and `yes` give,
# so that `set -o pipefail` scripts see the same as with them.
EXIT_BROKEN_PIPE = 141

# As einigc.targets names them; spelt out here so that `einigc --help` imports no compiler code.
_TARGET_NAMES = ("tensorflow", "torch", "jax", "numpy")

_DESCRIPTION = """\
Compile einsum declarations (.ein files) into standalone, black-formatted
modules for TensorFlow, PyTorch, JAX or NumPy. Contraction orders are
planned at compile time.

Every FILE is compiled before anything is written: when one has an error,
nothing is written. Without FILE, einigc builds (or with --check, checks)
the outputs listed in [tool.einigc] of the nearest pyproject.toml in the
current directory or above."""

_EPILOG = """\
exit status: 0 success (or --check: up to date), 1 --check: an output is stale or missing,
2 errors in the input, the files or [tool.einigc], 3 internal error (please report it),
141 stdout was closed before the output was written (as for a SIGPIPE).

examples:
  einigc specs.ein -o ops_generated.py
  einigc specs.ein --target torch -o ops_torch.py
  einigc specs.ein -o ops_generated.py --check   # in CI or pre-commit
  einigc --check ops_generated.py                # the same: the module names its source
  einigc specs.ein -o -                          # print to stdout
  einigc                                         # build what [tool.einigc] lists
  einigc --check                                 # and check it, in CI"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="einigc",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "sources",
        metavar="FILE",
        nargs="*",
        help="a SPEC.ein to compile (to -o OUT.py, else to its outputs in [tool.einigc], else to "
        "SPEC_generated.py beside it), or a .py module einigc generated, rebuilt from the source "
        "its first line names; several FILEs only without -o, as pre-commit passes them",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT.py",
        help="where to write the module of the one SPEC.ein ('-' for stdout)",
    )
    parser.add_argument(
        "--target",
        choices=_TARGET_NAMES,
        help="the framework the module is for (default: what [tool.einigc] or the existing output's "
        "header says, else tensorflow); with a configured SPEC.ein or none, builds only its outputs for that target",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and print a diff if an output is not what would be generated",
    )
    parser.add_argument("--version", action="version", version=f"einigc {__version__}")
    return parser


class _FileError(Exception):
    pass


class _Internal(Exception):
    pass


@dataclass(frozen=True)
class _Target:
    """One module to build: from `source` to `output` (None: stdout), as the user reads the paths."""

    source: Path
    output: Path | None
    target: str = "tensorflow"  # the framework


# --- which modules: the arguments, [tool.einigc], a generated module's header -----


def _targets(args: argparse.Namespace) -> tuple[list[_Target], list[str]]:
    """The modules to build, and the problems of FILEs that name none; raises _FileError for usage errors."""
    if not args.sources:
        if args.output:
            raise _FileError("einigc: error: -o needs the SPEC.ein to compile")
        outputs = [o for o in _config_or_error().outputs if args.target in (None, o.target)]
        if not outputs:
            raise _FileError(f"einigc: error: [tool.einigc] lists no output for the target {args.target}")
        return [_Target(_shown(o.source), _shown(o.output), o.target) for o in outputs], []
    if args.output:
        if len(args.sources) > 1:
            raise _FileError("einigc: error: -o takes one SPEC.ein; without -o each is written beside itself")
        if _is_module(args.sources[0]):
            raise _FileError("einigc: error: -o takes a SPEC.ein; a generated module is rebuilt in place")
        output = None if args.output == "-" else Path(args.output)
        return [_Target(Path(args.sources[0]), output, args.target or _target_of(output))], []
    targets: list[_Target] = []
    problems: list[str] = []
    configured: dict[Path, list[_Target]] | None = None
    for name in args.sources:
        if _is_module(name):
            try:
                targets.append(_module_target(Path(name), args.target))
            except _FileError as err:
                problems.append(str(err))
            continue
        if configured is None:
            configured = _configured_outputs()
        source = Path(name)
        listed = configured.get(source.resolve())
        if listed is None:
            output = _default_output(source)
            targets.append(_Target(source, output, args.target or _target_of(output)))
            continue
        chosen = [t for t in listed if args.target in (None, t.target)]
        if not chosen:
            problems.append(
                f"{source}: error: [tool.einigc] lists no {args.target} output for it; name one with -o"
            )
        targets.extend(_Target(source, t.output, t.target) for t in chosen)
    return targets, problems


def _target_of(output: Path | None) -> str:
    """The target of the module at `output` if einigc wrote it (its header says),
    else tensorflow: rebuilding a module keeps its framework unless --target says otherwise."""
    if output is None:
        return "tensorflow"
    try:
        if not stat.S_ISREG(os.stat(output).st_mode):
            return "tensorflow"  # a FIFO or a device: reading would wait for a writer, or take its data
        with open(output, encoding="utf-8", errors="replace", newline="") as handle:
            first, second = handle.readline(4096).rstrip("\r\n"), handle.readline(4096).rstrip("\r\n")
    except OSError:
        return "tensorflow"  # missing or unreadable: writing or checking it says why
    named = _TARGET_LINE.match(second) if _MARKER.fullmatch(first) else None
    return named[1] if named and named[1] in _TARGET_NAMES else "tensorflow"


def _module_target(module: Path, wanted: str | None) -> _Target:
    source, target = _source_of_module(module)
    if wanted is not None and wanted != target:
        raise _FileError(f"{module}: error: it was generated for {target}, not {wanted}; name the output with -o")
    return _Target(source, module, target)


def _is_module(name: str) -> bool:
    return Path(name).suffix == ".py"


def _shown(path: Path) -> Path:
    """A path from the configuration as the user reads it: relative to the current directory."""
    return Path(os.path.relpath(path))


def _config_or_error() -> config.Config:
    found = config.find(Path.cwd())
    if found is None:
        raise _FileError(
            "einigc: error: no FILE given, and no pyproject.toml with a [tool.einigc] table "
            f"in {Path.cwd()} or above"
        )
    return found


def _configured_outputs() -> dict[Path, list[_Target]]:
    """The outputs [tool.einigc] lists for each source, if there is such a table."""
    found = config.find(Path.cwd())
    outputs: dict[Path, list[_Target]] = {}
    for entry in found.outputs if found else ():
        target = _Target(_shown(entry.source), _shown(entry.output), entry.target)
        outputs.setdefault(entry.source.resolve(), []).append(target)
    return outputs


def _default_output(source: Path) -> Path:
    return source.with_name(source.stem + "_generated.py")


_MARKER = re.compile(r"# Code generated by einigc from (.+)\. DO NOT EDIT\.")
# The header's second line names the target (modules of einigc 0.1 are TensorFlow's).
_TARGET_LINE = re.compile(r"# Target: (\w+)\.")


@contextlib.contextmanager
def _reading(path: Path, what: str):
    """Turns the OS's errors while reading `path` into file errors of the command."""
    try:
        yield
    except IsADirectoryError:
        raise _FileError(f"{path}: error: is a directory, not {what}") from None
    except FileNotFoundError:
        raise _FileError(f"{path}: error: no such file") from None
    except OSError as exc:
        raise _FileError(f"{path}: error: cannot read it: {exc.strerror or exc}") from None


def _source_of_module(module: Path) -> tuple[Path, str]:
    """The source that the first line of a generated module names, relative to the module's
    folder, and the target its second line names."""
    with _reading(module, "a generated module"):
        with open(module, encoding="utf-8", errors="replace", newline="") as handle:
            first = handle.readline(4096).rstrip("\r\n")
            second = handle.readline(4096).rstrip("\r\n")
    match = _MARKER.fullmatch(first)
    if not match:
        raise _FileError(
            f"{module}: error: not a module generated by einigc "
            "(its first line is not '# Code generated by einigc from FILE. DO NOT EDIT.')"
        )
    source = Path(os.path.realpath(module)).parent / match[1]
    if not source.is_file():
        raise _FileError(f"{module}: error: its source {_shown(source)}, named in its first line, is missing")
    named = _TARGET_LINE.match(second)
    target = named[1] if named else "tensorflow"
    if target not in _TARGET_NAMES:
        raise _FileError(f"{module}: error: its header names the target '{target}', which einigc does not know")
    return _shown(source), target


def _source_name(target: _Target) -> str:
    """The source as the header names it: relative to the output's folder.

    On stdout the module is the one the default output would hold, byte for
    byte, so that `einigc a.ein -o - > a_generated.py` passes `--check`.
    """
    if target.output is None:
        return target.source.name
    out_dir = target.output.resolve().parent
    return os.path.relpath(target.source.resolve(), out_dir).replace(os.sep, "/")


def _unique(targets: list[_Target], problems: list[str]) -> list[_Target]:
    """The targets without repeats (pre-commit may pass a source and its module); two sources
    for one output is a problem."""
    unique: dict[Path | None, _Target] = {}
    for target in targets:
        key = target.output.resolve() if target.output is not None else None
        other = unique.get(key)
        if other is None:
            unique[key] = target
        elif other.source.resolve() != target.source.resolve():
            problems.append(f"{target.output}: error: both {other.source} and {target.source} would write it")
        elif other.target != target.target:
            problems.append(f"{target.output}: error: it would be written for both {other.target} and {target.target}")
    return list(unique.values())


# --- reading, compiling, writing ------------------------------------------------


def _read_source(path: Path) -> str:
    with _reading(path, "a .ein file"):
        data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Counted like the diagnostics count: every kind of line end ends a line.
        from einigc.ein_parser import source_lines

        before = source_lines(data[: exc.start].decode("utf-8"))
        line, col = len(before), len(before[-1]) + 1
        raise _FileError(
            f"{path}:{line}:{col}: error: the file is not UTF-8 (byte 0x{data[exc.start]:02x})"
        ) from None


def _compile(target: _Target) -> Result | int:
    """The compiled module (a Result), or the number of errors it printed; raises _Internal."""
    try:
        text = _read_source(target.source)
    except _FileError as err:
        print(err, file=sys.stderr)
        return 1

    from einigc.compiler import compile_text
    from einigc.ein_parser import source_lines
    from einigc.errors import CompileErrors, InternalError

    lines = source_lines(text)
    try:
        result = compile_text(text, _source_name(target), target.target)
    except CompileErrors as errors:
        for diagnostic in errors.diagnostics:
            print(diagnostic.render(str(target.source), lines), file=sys.stderr)
        return len(errors.diagnostics)
    except InternalError as err:
        raise _Internal(f"einigc: internal error in stage '{err.stage}', please report: {err.detail}") from None
    for note in result.notes:
        print(note.render(str(target.source), lines), file=sys.stderr)
    return result


def _target_problem(target: _Target, check: bool) -> str | None:
    """What makes the output unusable, found before anything is written."""
    if target.output is None:
        return "einigc: error: --check needs an output file, not '-'" if check else None
    if target.output.resolve() == target.source.resolve():
        return f"{target.output}: error: the output would overwrite the input {target.source}"
    if check:
        return None
    try:
        _destination_kind(target.output)
    except _FileError as err:
        return str(err)
    return None


def _destination_kind(path: Path) -> int | None:
    """The file type bits of `path` (None: it does not exist yet) if a module can be written there."""
    try:
        kind = os.stat(path).st_mode
    except FileNotFoundError:
        kind = None
    except OSError as exc:
        raise _FileError(f"{path}: error: cannot write it: {exc.strerror or exc}") from None
    if kind is None or stat.S_ISREG(kind) or stat.S_ISFIFO(kind) or stat.S_ISCHR(kind):
        directory = Path(os.path.realpath(path)).parent
        if kind is None and not directory.is_dir():
            raise _FileError(f"{path}: error: the folder {directory} does not exist")
        return kind
    what = "a directory" if stat.S_ISDIR(kind) else "not a regular file, a FIFO or a character device"
    raise _FileError(f"{path}: error: cannot write the module there: it is {what}")


def _write(path: Path, text: str) -> None:
    """Writes the module to `path` without changing what kind of file `path` is.

    A symlink keeps pointing where it did (its target is replaced); a FIFO or
    a character device (/dev/null, a terminal) is written to directly; a
    regular file is replaced atomically and keeps its permission bits.
    """
    kind = _destination_kind(path)
    if kind is not None and (stat.S_ISFIFO(kind) or stat.S_ISCHR(kind)):
        try:
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        except OSError as exc:
            raise _FileError(f"{path}: error: cannot write it: {exc.strerror or exc}") from None
        return
    mode = stat.S_IMODE(kind) if kind is not None else 0o644
    _write_atomically(Path(os.path.realpath(path)), text, mode, shown=path)


def _write_atomically(path: Path, text: str, mode: int, shown: Path) -> None:
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _FileError(f"{shown}: error: cannot write there: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise _FileError(f"{shown}: error: cannot write it: {exc.strerror or exc}") from None


# --- the run ----------------------------------------------------------------------


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        targets, problems = _targets(args)
    except (_FileError, config.ConfigError) as err:
        print(err, file=sys.stderr)
        return EXIT_ERROR
    targets = _unique(targets, problems)
    for problem in problems:
        print(problem, file=sys.stderr)
    errors, results = len(problems), []
    try:
        for target in targets:
            outcome = _compile(target)
            if isinstance(outcome, int):
                errors += outcome
            else:
                results.append((target, outcome))
            problem = _target_problem(target, args.check)
            if problem:
                print(problem, file=sys.stderr)
                errors += 1
    except _Internal as err:
        print(err, file=sys.stderr)
        return EXIT_INTERNAL
    if errors:
        print(f"{_count(errors, 'error')}; nothing {'checked' if args.check else 'written'}", file=sys.stderr)
        return EXIT_ERROR
    if args.check:
        return max((_check(target, result) for target, result in results), default=EXIT_OK)
    return _write_all(results)


def _write_all(results: list[tuple[_Target, Result]]) -> int:
    written: list[str] = []
    for target, result in results:
        if target.output is None:
            sys.stdout.write(result.source)
            sys.stdout.flush()  # a closed pipe fails here, inside main, not at exit
            continue
        try:
            _write(target.output, result.source)
        except _FileError as err:
            print(err, file=sys.stderr)
            done = f"wrote only {', '.join(written)}" if written else "nothing written"
            print(f"1 error; {done}", file=sys.stderr)
            return EXIT_ERROR
        written.append(str(target.output))
    for target, result in results:
        if result.notes:
            where = "the module to stdout" if target.output is None else target.output
            print(f"einigc: wrote {where} ({_tally(result)})", file=sys.stderr)
    return EXIT_OK


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _tally(result: Result) -> str:
    """'37 functions; 1 note': what a module holds and what was said about it."""
    severities: dict[str, int] = {}
    for note in result.notes:
        severities[note.severity] = severities.get(note.severity, 0) + 1
    said = "; ".join(_count(n, severity) for severity, n in sorted(severities.items()))
    return f"{_count(len(result.functions), 'function')}; {said}"


def _check(target: _Target, result: Result) -> int:
    """--check: EXIT_OK when OUT holds the module, else a diff and EXIT_STALE."""
    output, expected = target.output, result.source
    option = "" if target.target == "tensorflow" else f" --target {target.target}"
    regenerate = f"regenerate it with: einigc {target.source}{option} -o {output}"
    try:
        current = output.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"einigc: {output} is missing; {regenerate}", file=sys.stderr)
        return EXIT_STALE
    except IsADirectoryError:
        print(f"{output}: error: is a directory, not a generated module", file=sys.stderr)
        return EXIT_ERROR
    except UnicodeDecodeError:
        print(f"einigc: {output} is stale (it is not UTF-8); {regenerate}", file=sys.stderr)
        return EXIT_STALE
    except OSError as exc:
        print(f"{output}: error: cannot read it: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    if current == expected:
        if result.notes:
            print(f"einigc: {output} is current ({_tally(result)})", file=sys.stderr)
        return EXIT_OK
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{output} (checked in)",
        tofile=f"{output} (generated)",
    )
    sys.stdout.writelines(diff)
    sys.stdout.flush()
    print(f"einigc: {output} is stale; {regenerate}", file=sys.stderr)
    return EXIT_STALE


# Deeply nested input (groups in groups, calls in calls) recurses through the
# parser and the passes: give them a deep stack of their own.
_STACK_BYTES = 512 * 1024 * 1024
_RECURSION_LIMIT = 200_000


def _run_with_deep_stack(argv: list[str] | None) -> int:
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["status"] = run(argv)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    old_limit = sys.getrecursionlimit()
    old_size = threading.stack_size()
    try:
        threading.stack_size(_STACK_BYTES)
        sys.setrecursionlimit(_RECURSION_LIMIT)
        thread = threading.Thread(target=target, name="einigc")
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old_size)
        sys.setrecursionlimit(old_limit)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["status"]  # type: ignore[return-value]


def _silence_stdout() -> None:
    # Python flushes stdout again at exit, which would fail on the closed pipe
    # and print a warning: point the descriptor at /dev/null instead.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    try:
        return _run_with_deep_stack(argv)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except SystemExit as exc:  # argparse's --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    except RecursionError:
        print("einigc: error: the input is nested too deeply to compile", file=sys.stderr)
        return EXIT_ERROR
    except BaseException as exc:  # noqa: BLE001 - never show users a traceback
        print(
            f"einigc: internal error, please report: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
