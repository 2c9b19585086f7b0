"""The one place that knows where grammar/, templates/ and the targets' runtime modules live."""

from functools import lru_cache
from pathlib import Path

import jinja2

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    # Installed from a wheel, the folders sit inside the package; in a source
    # checkout (and an editable install) they sit beside it.
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"einigc installation is missing its {name}/ folder")


def grammar_path(filename: str) -> Path:
    return _data_dir("grammar") / filename


def templates_dir() -> Path:
    return _data_dir("templates")


def runtime_path(target: str) -> Path:
    """The runtime helpers of `target` ("tensorflow"): a module of the package, read as source."""
    return _PACKAGE_DIR / "targets" / target / "runtime.py"


@lru_cache(maxsize=None)
def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
