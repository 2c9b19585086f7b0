"""Which array frameworks a test needs, and running the suite as if some were not installed.

A test that needs a framework carries its marker (`@pytest.mark.tensorflow`);
`conftest.py` adds the marker to every test of a module that holds the
framework (`tf = pytest.importorskip("tensorflow")`) and to every test that
takes the `tf` fixture, and skips marked tests where the framework cannot be
imported. Write the marker by hand only where the framework is reached
another way: through a generated module or a subprocess.

`EINIG_BLOCK_FRAMEWORKS=tensorflow` (names from FRAMEWORKS, comma-separated)
makes the suite run as on a machine without them: their modules are shadowed
by packages that raise ModuleNotFoundError, in this process and, through
PYTHONPATH, in every Python subprocess it starts (except `python -I`).

Another framework (JAX, PyTorch) is a row of FRAMEWORKS, and a fixture in
conftest.py (listed in its _FRAMEWORK_FIXTURES) if tests take it one by one.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Each framework and the top-level modules that belong to it: blocking
# TensorFlow blocks Keras too, which would otherwise import it.
FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "tensorflow": ("tensorflow", "tf_keras", "keras"),
}

BLOCK_VARIABLE = "EINIG_BLOCK_FRAMEWORKS"

_SHADOW = """\
raise ModuleNotFoundError(
    "{module} is blocked by {variable}={value} (a test that needs it takes the {framework} marker)",
    name="{module}",
)
"""


def blocked() -> tuple[str, ...]:
    """The frameworks named in EINIG_BLOCK_FRAMEWORKS; an unknown name is an error, not a no-op."""
    names = tuple(n.strip() for n in os.environ.get(BLOCK_VARIABLE, "").split(",") if n.strip())
    unknown = [n for n in names if n not in FRAMEWORKS]
    if unknown:
        raise ValueError(f"{BLOCK_VARIABLE}: unknown framework {unknown}; known: {sorted(FRAMEWORKS)}")
    return names


def block(frameworks: tuple[str, ...]) -> None:
    """Makes the modules of `frameworks` unimportable here and in subprocesses (through PYTHONPATH)."""
    if not frameworks:
        return
    loaded = [m for f in frameworks for m in FRAMEWORKS[f] if m in sys.modules]
    if loaded:
        raise RuntimeError(f"{BLOCK_VARIABLE}: {loaded} already imported before the block")
    shadows = tempfile.mkdtemp(prefix="einig_blocked_")
    atexit.register(shutil.rmtree, shadows, True)
    value = ",".join(frameworks)
    for framework in frameworks:
        for module in FRAMEWORKS[framework]:
            package = Path(shadows, module)
            package.mkdir()
            text = _SHADOW.format(module=module, variable=BLOCK_VARIABLE, value=value, framework=framework)
            (package / "__init__.py").write_text(text, encoding="utf-8")
    sys.path.insert(0, shadows)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [shadows, os.environ.get("PYTHONPATH")]))


def available(framework: str) -> bool:
    """Whether the framework's main module can be imported (without importing it)."""
    if framework in blocked():
        return False
    return importlib.util.find_spec(FRAMEWORKS[framework][0]) is not None


def framework_of(module_name: str) -> str | None:
    """The framework a module such as `tensorflow.python` or `keras` belongs to."""
    top = module_name.partition(".")[0]
    return next((f for f, modules in FRAMEWORKS.items() if top in modules), None)
