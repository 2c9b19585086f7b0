"""The `einigc` command: read a `.ein` file, write the generated module atomically."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
import threading
from pathlib import Path

from einigc import __version__

EXIT_OK, EXIT_STALE, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3

_DESCRIPTION = """\
Compile einsum declarations (a .ein file) into a standalone, black-formatted
TensorFlow module. Contraction orders are planned at compile time."""

_EPILOG = """\
exit status: 0 success (or --check: up to date), 1 --check: OUT is stale,
2 errors in the input or files, 3 internal error (please report it).

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
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise _FileError(
            f"{path}:{line}:{col}: error: the file is not UTF-8 (byte 0x{data[exc.start]:02x})"
        ) from None


def _names(source: Path, output: str) -> tuple[str, str]:
    """The source and output as the header should name them: relative to the output's folder."""
    if output == "-":
        return source.name, "-"
    out_dir = Path(output).resolve().parent
    src = os.path.relpath(source.resolve(), out_dir).replace(os.sep, "/")
    return src, Path(output).name


def _write_atomically(path: Path, text: str) -> None:
    directory = path.resolve().parent
    if not directory.is_dir():
        raise _FileError(f"{path}: error: the folder {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _FileError(f"{path}: error: cannot write there: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise _FileError(f"{path}: error: cannot write it: {exc.strerror or exc}") from None


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.output and len(args.sources) > 1:
        print("einigc: error: -o takes one SPEC.ein; without -o each is written beside itself", file=sys.stderr)
        return EXIT_ERROR
    status = EXIT_OK
    for source in args.sources:
        output = args.output or str(Path(source).with_name(Path(source).stem + "_generated.py"))
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
    from einigc.errors import CompileErrors, InternalError

    source_name, output_name = _names(source, output)
    # The grammar ends lines at '\n' only; so must the quoted source lines.
    lines = text.split("\n")
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
        return EXIT_OK
    out_path = Path(output)
    if out_path.resolve() == source.resolve():
        print(f"{output}: error: the output would overwrite the input {source}", file=sys.stderr)
        return EXIT_ERROR
    if check:
        try:
            current = out_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current == result.source:
            return EXIT_OK
        diff = difflib.unified_diff(
            (current or "").splitlines(keepends=True),
            result.source.splitlines(keepends=True),
            fromfile=f"{output} (checked in)" if current is not None else f"{output} (missing)",
            tofile=f"{output} (generated)",
        )
        sys.stdout.writelines(diff)
        print(f"einigc: {output} is stale; regenerate it with: einigc {source} -o {output}", file=sys.stderr)
        return EXIT_STALE
    try:
        _write_atomically(out_path, result.source)
    except _FileError as err:
        print(err, file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


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


def main(argv: list[str] | None = None) -> int:
    try:
        return _run_with_deep_stack(argv)
    except KeyboardInterrupt:
        return 130
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
