"""The `einigc` command: read a `.ein` file, write the generated module atomically."""

from __future__ import annotations

import argparse
import difflib
import os
import stat
import sys
import tempfile
import threading
from pathlib import Path

from einigc import __version__

EXIT_OK, EXIT_STALE, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3
# stdout closed early (`einigc a.ein -o - | head`): stop quietly with the
# status of a Unix tool killed by SIGPIPE (128 + 13), as `cat` and `yes` give,
# so that `set -o pipefail` scripts see the same as with them.
EXIT_BROKEN_PIPE = 141

_DESCRIPTION = """\
Compile einsum declarations (a .ein file) into a standalone, black-formatted
TensorFlow module. Contraction orders are planned at compile time."""

_EPILOG = """\
exit status: 0 success (or --check: up to date), 1 --check: OUT is stale or missing,
2 errors in the input or files, 3 internal error (please report it),
141 stdout was closed before the output was written (as for a SIGPIPE).

examples:
  einigc specs.ein -o ops_generated.py
  einigc specs.ein -o ops_generated.py --check   # in CI or pre-commit
  einigc specs.ein -o -                          # print to stdout"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="einigc",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "sources",
        metavar="SPEC.ein",
        nargs="+",
        help="the declarations to compile (several only without -o, as pre-commit passes them)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT.py",
        help="where to write the module ('-' for stdout; default: SPEC_generated.py beside SPEC.ein)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and print a diff if OUT is not what would be generated",
    )
    parser.add_argument("--version", action="version", version=f"einigc {__version__}")
    return parser


class _FileError(Exception):
    pass


def _read_source(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise _FileError(f"{path}: error: is a directory, not a .ein file") from None
    except FileNotFoundError:
        raise _FileError(f"{path}: error: no such file") from None
    except OSError as exc:
        raise _FileError(f"{path}: error: cannot read it: {exc.strerror or exc}") from None
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


def _default_output(source: Path) -> Path:
    return source.with_name(source.stem + "_generated.py")


def _names(source: Path, output: str) -> tuple[str, str]:
    """The source and output as the header should name them: relative to the output's folder.

    On stdout the module is the one the default output would hold, byte for
    byte, so that `einigc a.ein -o - > a_generated.py` passes `--check`.
    """
    if output == "-":
        return source.name, _default_output(source).name
    out_dir = Path(output).resolve().parent
    src = os.path.relpath(source.resolve(), out_dir).replace(os.sep, "/")
    return src, Path(output).name


def _write(path: Path, text: str) -> None:
    """Writes the module to `path` without changing what kind of file `path` is.

    A symlink keeps pointing where it did (its target is replaced); a FIFO or
    a character device (/dev/null, a terminal) is written to directly; a
    regular file is replaced atomically and keeps its permission bits.
    """
    try:
        kind = os.stat(path).st_mode
    except FileNotFoundError:
        kind = None
    except OSError as exc:
        raise _FileError(f"{path}: error: cannot write it: {exc.strerror or exc}") from None
    if kind is not None and (stat.S_ISFIFO(kind) or stat.S_ISCHR(kind)):
        try:
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        except OSError as exc:
            raise _FileError(f"{path}: error: cannot write it: {exc.strerror or exc}") from None
        return
    if kind is not None and not stat.S_ISREG(kind):
        what = "a directory" if stat.S_ISDIR(kind) else "not a regular file, a FIFO or a character device"
        raise _FileError(f"{path}: error: cannot write the module there: it is {what}")
    mode = stat.S_IMODE(kind) if kind is not None else 0o644
    _write_atomically(Path(os.path.realpath(path)), text, mode, shown=path)


def _write_atomically(path: Path, text: str, mode: int, shown: Path) -> None:
    directory = path.parent
    if not directory.is_dir():
        raise _FileError(f"{shown}: error: the folder {directory} does not exist")
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


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.output and len(args.sources) > 1:
        print("einigc: error: -o takes one SPEC.ein; without -o each is written beside itself", file=sys.stderr)
        return EXIT_ERROR
    status = EXIT_OK
    for source in args.sources:
        output = args.output or str(_default_output(Path(source)))
        status = max(status, _compile_one(Path(source), output, args.check))
    return status


def _compile_one(source: Path, output: str, check: bool) -> int:
    if check and output == "-":
        print("einigc: error: --check needs an output file, not '-'", file=sys.stderr)
        return EXIT_ERROR
    try:
        text = _read_source(source)
    except _FileError as err:
        print(err, file=sys.stderr)
        return EXIT_ERROR

    from einigc.compiler import compile_text
    from einigc.ein_parser import source_lines
    from einigc.errors import CompileErrors, InternalError

    source_name, output_name = _names(source, output)
    lines = source_lines(text)
    try:
        result = compile_text(text, source_name, output_name)
    except CompileErrors as errors:
        for diagnostic in errors.diagnostics:
            print(diagnostic.render(str(source), lines), file=sys.stderr)
        count = len(errors.diagnostics)
        print(f"{count} error{'s' if count != 1 else ''}; nothing written", file=sys.stderr)
        return EXIT_ERROR
    except InternalError as err:
        print(f"einigc: internal error in stage '{err.stage}', please report: {err.detail}", file=sys.stderr)
        return EXIT_INTERNAL
    for note in result.notes:
        print(note.render(str(source), lines), file=sys.stderr)

    if output == "-":
        sys.stdout.write(result.source)
        sys.stdout.flush()  # a closed pipe fails here, inside main, not at exit
        return EXIT_OK
    out_path = Path(output)
    if out_path.resolve() == source.resolve():
        print(f"{output}: error: the output would overwrite the input {source}", file=sys.stderr)
        return EXIT_ERROR
    if check:
        return _check(source, output, result.source)
    try:
        _write(out_path, result.source)
    except _FileError as err:
        print(err, file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _check(source: Path, output: str, expected: str) -> int:
    """--check: EXIT_OK when OUT holds `expected`, else a diff and EXIT_STALE."""
    regenerate = f"regenerate it with: einigc {source} -o {output}"
    try:
        current = Path(output).read_text(encoding="utf-8")
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
