"""The suite without the frameworks: tests that need TensorFlow, PyTorch or JAX carry its marker, and the others pass
where they are missing."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import types
import xml.etree.ElementTree as ET

import pytest

from tests import conftest, frameworks
from tests.conftest import REPO

# make test-fast's selection (Makefile), run here as on a machine without TensorFlow, PyTorch and JAX.
FAST = ["-m", "not slow"]
# Measured 2026-12-01: 443 pass. Fewer means tests were lost, e.g. a stage
# module that now imports TensorFlow at its top and so is skipped whole.
MIN_PASSED = 420
# Stage tests that must run without TensorFlow (each must pass some tests).
STAGE_MODULES = {
    "test_parser",
    "test_checks",
    "test_plan",
    "test_select",
    "test_lowering",
    "test_fmt",
    "test_config",
    "test_cli_text",
    "test_errors_catalogue",
    "test_golden",
    "test_frameworks",
}


def _fast_run_without_tensorflow(tmp_path):
    report = tmp_path / "report.xml"
    env = dict(os.environ, **{frameworks.BLOCK_VARIABLE: ",".join(frameworks.FRAMEWORKS)})
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FAST, f"--junitxml={report}", "tests"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    return result, ET.parse(report).getroot()


def _reason(skipped: ET.Element) -> str:
    # A module skipped while collected says so in the message and why in the text.
    return f"{skipped.get('message', '')} {skipped.text or ''}"


@pytest.mark.slow  # runs make test-fast's tests again, in a subprocess
def test_the_tests_without_tensorflow_pass_where_it_cannot_be_imported(tmp_path):
    result, report = _fast_run_without_tensorflow(tmp_path)
    assert result.returncode == 0, result.stdout[-5000:]
    cases = report.findall(".//testcase")
    assert not [c for c in cases if c.find("error") is not None or c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    # Only for a framework (TensorFlow, or torch/jax where absent): a module
    # that failed to import for another reason is an error, not a skip.
    reasons = {c.get("name"): _reason(c.find("skipped")) for c in skipped}
    assert all(any(name in reason for name in frameworks.FRAMEWORKS) for reason in reasons.values()), reasons
    passed = [c for c in cases if c not in skipped]
    assert len(passed) >= MIN_PASSED, len(passed)
    ran = {c.get("classname").split(".")[1] for c in passed}
    assert STAGE_MODULES <= ran, sorted(STAGE_MODULES - ran)


def test_a_blocked_framework_cannot_be_imported_here_nor_in_the_processes_started_from_here():
    program = (
        "import subprocess, sys\n"
        "from tests import frameworks\n"
        "frameworks.block(('tensorflow',))\n"
        "for name in ('tensorflow', 'keras', 'tf_keras'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ModuleNotFoundError as error:\n"
        "        print(name, 'blocked:', error.name, 'EINIG_BLOCK_FRAMEWORKS' in str(error))\n"
        "child = 'import tensorflow'\n"
        "print('child exit', subprocess.run([sys.executable, '-c', child], capture_output=True).returncode)\n"
        "import numpy\n"
        "print('numpy imports')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != frameworks.BLOCK_VARIABLE}
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "tensorflow blocked: tensorflow True",
        "keras blocked: keras True",
        "tf_keras blocked: tf_keras True",
        "child exit 1",
        "numpy imports",
    ]


def test_blocking_names_only_known_frameworks(monkeypatch):
    monkeypatch.setenv(frameworks.BLOCK_VARIABLE, "tensorflow, tensorlfow")
    with pytest.raises(ValueError, match="unknown framework \\['tensorlfow'\\]"):
        frameworks.blocked()
    monkeypatch.setenv(frameworks.BLOCK_VARIABLE, " tensorflow ,")
    assert frameworks.blocked() == ("tensorflow",)
    assert not frameworks.available("tensorflow")


def test_modules_belong_to_their_framework():
    assert frameworks.framework_of("tensorflow") == "tensorflow"
    assert frameworks.framework_of("tensorflow.python.ops") == "tensorflow"
    assert frameworks.framework_of("keras") == "tensorflow"
    assert frameworks.framework_of("numpy") is None
    assert frameworks.framework_of("tensorflow_like") is None


def _item(module_globals: dict, fixturenames=()):
    module = types.ModuleType("test_something")
    vars(module).update(module_globals)
    return types.SimpleNamespace(module=module, fixturenames=list(fixturenames))


def test_a_test_needs_the_frameworks_its_module_holds_or_its_fixtures_give():
    fake_tf = types.ModuleType("tensorflow")
    fake_keras = types.ModuleType("keras.layers")
    assert conftest._frameworks_needed(_item({"tf": fake_tf})) == {"tensorflow"}
    assert conftest._frameworks_needed(_item({"layers": fake_keras})) == {"tensorflow"}
    assert conftest._frameworks_needed(_item({"np": types.ModuleType("numpy")})) == set()
    assert conftest._frameworks_needed(_item({}, ["tmp_path", "tf"])) == {"tensorflow"}
    assert conftest._frameworks_needed(_item({}, ["tmp_path"])) == set()


def test_every_marker_of_a_framework_is_registered(pytestconfig):
    markers = " ".join(pytestconfig.getini("markers"))
    for framework in frameworks.FRAMEWORKS:
        assert f"{framework}: " in markers
    assert "slow: " in markers


def test_no_test_module_imports_a_framework_plainly_at_its_top():
    # `import tensorflow` there is a collection error where it is missing;
    # `tf = pytest.importorskip("tensorflow")` skips the module instead.
    found = []
    for path in sorted((REPO / "tests").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            found += [f"{path.name}:{node.lineno}: {n}" for n in names if frameworks.framework_of(n)]
    assert found == [], found
