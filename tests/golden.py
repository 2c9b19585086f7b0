"""Golden generated modules: tests/golden/NAME.ein compiled to NAME_generated.py beside it.

    python -m tests.golden            # exit 1 and print a diff for each stale file
    python -m tests.golden --update   # regenerate them (`make generate` runs this)

Each file is compiled as `einigc NAME.ein -o NAME_generated.py` would,
run from tests/golden/, so the headers name the source as the CLI does.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import sys
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def specs(directory: Path = GOLDEN_DIR) -> list[Path]:
    return sorted(directory.glob("*.ein"))


def generated_path(spec: Path) -> Path:
    return spec.with_name(f"{spec.stem}_generated.py")


@functools.lru_cache(maxsize=None)
def compiled(text: str, source_name: str = "specs.ein") -> str:
    """The generated module of `text`, compiled once per process: the compiler is deterministic."""
    from einigc.compiler import compile_text

    return compile_text(text, source_name).source


def generate(spec: Path) -> str:
    return compiled(spec.read_text(encoding="utf-8"), spec.name)


def stale_diff(spec: Path) -> str:
    """A unified diff from the checked-in module to a fresh compile; empty when current."""
    path = generated_path(spec)
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    fresh = generate(spec)
    if current == fresh:
        return ""
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            fromfile=f"{path.name} (checked in)" if path.exists() else f"{path.name} (missing)",
            tofile=f"{path.name} (generated now)",
        )
    )


def update(directory: Path = GOLDEN_DIR) -> list[Path]:
    """Rewrites every stale golden module; returns the ones it rewrote."""
    rewritten = []
    for spec in specs(directory):
        path = generated_path(spec)
        fresh = generate(spec)
        if not path.exists() or path.read_text(encoding="utf-8") != fresh:
            path.write_text(fresh, encoding="utf-8", newline="\n")
            rewritten.append(path)
    return rewritten


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.golden", description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite stale golden modules")
    args = parser.parse_args(argv)
    if args.update:
        for path in update():
            print(f"updated {path.relative_to(GOLDEN_DIR.parent.parent)}")
        return 0
    stale = 0
    for spec in specs():
        diff = stale_diff(spec)
        if diff:
            stale += 1
            sys.stdout.write(diff)
    if stale:
        print(f"{stale} golden module(s) are stale; run: python -m tests.golden --update", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
