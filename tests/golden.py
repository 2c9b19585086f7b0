"""Golden generated modules: tests/golden/NAME.ein compiled to NAME_generated.py beside it (TensorFlow),
and to NAME_TARGET.py for each other target (NAME_torch.py, NAME_jax.py, NAME_numpy.py).

    python -m tests.golden            # exit 1 and print a diff for each stale file
    python -m tests.golden --update   # regenerate them (`make generate` runs this)

Each file is compiled as `einigc NAME.ein [--target T] -o NAME_generated.py` would,
run from tests/golden/, so the headers name the source as the CLI does. A spec
that uses eingrad has no NumPy module (eingrad needs automatic differentiation).
"""

from __future__ import annotations

import argparse
import difflib
import functools
import sys
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


# The targets with golden modules, and the suffix of each one's file.
TARGETS = {"tensorflow": "generated", "numpy": "numpy", "torch": "torch", "jax": "jax"}

def specs(directory: Path = GOLDEN_DIR) -> list[Path]:
    return sorted(directory.glob("*.ein"))


def targets_of(spec: Path) -> list[str]:
    """The targets `spec` compiles for: eingrad needs automatic differentiation (not NumPy's)."""
    from einigc.targets import TARGETS as REGISTRY

    text = spec.read_text(encoding="utf-8")
    uses_grad = "eingrad(" in text
    return [target for target in TARGETS if REGISTRY[target].autodiff or not uses_grad]


def cases(directory: Path = GOLDEN_DIR) -> list[tuple[Path, str]]:
    """(spec, target) of every golden module."""
    return [(spec, target) for spec in specs(directory) for target in targets_of(spec)]


def generated_path(spec: Path, target: str = "tensorflow") -> Path:
    return spec.with_name(f"{spec.stem}_{TARGETS[target]}.py")


@functools.lru_cache(maxsize=None)
def compiled(text: str, source_name: str = "specs.ein", target: str = "tensorflow") -> str:
    """The generated module of `text`, compiled once per process: the compiler is deterministic."""
    from einigc.compiler import compile_text

    return compile_text(text, source_name, target).source


def generate(spec: Path, target: str = "tensorflow") -> str:
    return compiled(spec.read_text(encoding="utf-8"), spec.name, target)


def stale_diff(spec: Path, target: str = "tensorflow") -> str:
    """A unified diff from the checked-in module to a fresh compile; empty when current."""
    path = generated_path(spec, target)
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    fresh = generate(spec, target)
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
    for spec, target in cases(directory):
        path = generated_path(spec, target)
        fresh = generate(spec, target)
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
    for spec, target in cases():
        diff = stale_diff(spec, target)
        if diff:
            stale += 1
            sys.stdout.write(diff)
    if stale:
        print(f"{stale} golden module(s) are stale; run: python -m tests.golden --update", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
