"""`make demo` tells the truth: every declaration of examples/specs.ein and derivatives.ein is called and compared,
and specs.ein's again from its NumPy, PyTorch and JAX modules."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.tensorflow, pytest.mark.torch, pytest.mark.jax]  # the demo runs the generated modules


def test_demo_calls_every_declaration_and_prints_no_tensorflow_start_up_lines():
    specs = re.findall(r"^([a-z_0-9]+)\(", (REPO / "examples" / "specs.ein").read_text(), re.M)
    derivatives = re.findall(r"^([a-z_0-9]+)\(", (REPO / "examples" / "derivatives.ein").read_text(), re.M)
    declarations = specs + derivatives
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "demo.py"],
        cwd=REPO / "examples",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    total = len(declarations)
    assert f"{total} of {total} generated functions match numpy." in result.stdout
    for name in declarations:
        assert re.search(rf"^  {name} +\S.* matches numpy$", result.stdout, re.M), name
    assert "not called by this demo" not in result.stdout
    for noise in ("oneDNN", "absl::InitializeLog", "port.cc"):
        assert noise not in result.stdout + result.stderr
    assert "examples/specs_generated.py" in result.stdout
    for module, framework in (("specs_numpy.py", "NumPy"), ("specs_torch.py", "PyTorch"), ("specs_jax.py", "JAX")):
        assert f"{len(specs)} of {len(specs)} functions of {module} ({framework}) match numpy." in result.stdout
    assert "FAILED" not in result.stdout


def test_the_readme_first_screen_declaration_compiles_and_runs():
    import numpy as np

    from tests.ein_harness import compile_module

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"cat > ops\.ein <<'END'\n(.*?)END\n", readme, re.S).group(1)
    ops = compile_module(snippet, "ops.ein")
    q, k = np.ones((2, 3, 4, 5)), np.ones((2, 3, 6, 5))
    np.testing.assert_allclose(ops.scores(q, k), np.einsum("bhqd,bhkd->bhqk", q, k))


def test_the_readme_shows_the_generated_code_of_the_several_pair_declarations():
    """The README's code for the five declarations is examples/derivatives_generated.py's, word for word."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    generated = (REPO / "examples" / "derivatives_generated.py").read_text(encoding="utf-8")
    for name in ("gauss_newton", "ggn_vp", "ntk", "mixed", "rows"):
        assert f'{name}(' in readme.split("#### Several `%` pairs")[1].split("```")[1]  # the declarations block
        block = re.search(rf"<summary><code>{name}</code>.*?```python\n(.*?)```", readme, re.S)
        assert block is not None, f"README: no generated code for {name}"
        start = generated.index(f"\ndef {name}(") + 1
        end = generated.find("\n\n\ndef ", start)
        assert block.group(1) == generated[start:end].rstrip() + "\n", (
            f"README's {name} is not examples/derivatives_generated.py's: copy it again"
        )
