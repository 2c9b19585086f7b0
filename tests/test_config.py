"""[tool.einigc] in pyproject.toml: `einigc` alone builds the project's modules, `einigc --check` checks them."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from einigc import config
from tests.conftest import REPO, compile_source, run_cli, run_main

SPEC = 'mm(a, b) = einsum("ij,jk->ik", a, b)\n'
OTHER = 'transpose(x) = einsum("ij->ji", x)\n'

PYPROJECT = """\
[project]
name = "demo"

[tool.einigc]
outputs = [
  { source = "ops/specs.ein", output = "ops/specs_generated.py" },
  { source = "ops/other.ein", output = "gen/other_ops.py" },
]
"""


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "ops").mkdir()
    (tmp_path / "gen").mkdir()
    (tmp_path / "ops" / "specs.ein").write_text(SPEC, encoding="utf-8")
    (tmp_path / "ops" / "other.ein").write_text(OTHER, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    return tmp_path


def built(project: Path) -> dict[str, str]:
    return {
        "ops/specs_generated.py": compile_source(SPEC, "specs.ein"),
        "gen/other_ops.py": compile_source(OTHER, "../ops/other.ein"),
    }


def assert_files(project: Path, expected: dict[str, str]) -> None:
    for name, text in expected.items():
        assert (project / name).read_text(encoding="utf-8") == text, name


# --- building and checking the whole set ------------------------------------------


@pytest.mark.slow  # starts processes
def test_no_arguments_builds_every_output(project):
    result = run_cli([], cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert_files(project, built(project))
    assert sorted(p.name for p in (project / "gen").iterdir()) == ["other_ops.py"]


@pytest.mark.slow  # starts processes
def test_modules_built_from_the_config_equal_the_command_line_ones(project):
    assert run_cli([], cwd=project).returncode == 0
    by_hand = run_cli(["ops/other.ein", "-o", "gen/other_ops.py", "--check"], cwd=project)
    assert by_hand.returncode == 0, by_hand.stdout + by_hand.stderr


@pytest.mark.slow  # starts processes
def test_check_passes_when_every_output_is_current(project):
    assert run_cli([], cwd=project).returncode == 0
    result = run_cli(["--check"], cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr == ""


@pytest.mark.slow  # starts processes
def test_check_fails_on_a_stale_output_and_writes_nothing(project):
    assert run_cli([], cwd=project).returncode == 0
    module = project / "gen" / "other_ops.py"
    edited = module.read_text(encoding="utf-8").replace("def transpose(", "def transposed(")
    module.write_text(edited, encoding="utf-8")
    result = run_cli(["--check"], cwd=project)
    assert result.returncode == 1
    assert "-def transposed(x: tf.Tensor) -> tf.Tensor:" in result.stdout and "+def transpose(x: tf.Tensor)" in result.stdout
    assert result.stderr == (
        "einigc: gen/other_ops.py is stale; regenerate it with: einigc ops/other.ein -o gen/other_ops.py\n"
    )
    assert module.read_text(encoding="utf-8") == edited


@pytest.mark.slow  # starts processes
def test_check_reports_a_missing_output(project):
    result = run_cli(["--check"], cwd=project)
    assert result.returncode == 1
    assert "einigc: ops/specs_generated.py is missing" in result.stderr
    assert "einigc: gen/other_ops.py is missing" in result.stderr
    assert not (project / "ops" / "specs_generated.py").exists()


@pytest.mark.slow  # starts processes
def test_an_error_in_one_source_writes_no_output(project):
    (project / "ops" / "other.ein").write_text('transpose(x) = einsum("ij->ji", y)\n', encoding="utf-8")
    result = run_cli([], cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith("ops/other.ein:1:33: error: unknown name 'y'\n")
    assert result.stderr.endswith("1 error; nothing written\n")
    assert not (project / "ops" / "specs_generated.py").exists()
    assert list((project / "gen").iterdir()) == []


@pytest.mark.slow  # starts processes
def test_a_missing_source_is_a_file_error(project):
    (project / "ops" / "specs.ein").unlink()
    result = run_cli([], cwd=project)
    assert result.returncode == 2
    assert result.stderr == "ops/specs.ein: error: no such file\n1 error; nothing written\n"


@pytest.mark.slow  # starts processes
def test_paths_are_relative_to_the_config_file_from_a_subdirectory(project):
    (project / "ops" / "deep").mkdir()
    result = run_cli([], cwd=project / "ops" / "deep")
    assert result.returncode == 0, result.stderr
    assert_files(project, built(project))
    (project / "gen" / "other_ops.py").write_text("stale\n", encoding="utf-8")
    result = run_cli(["--check"], cwd=project / "ops" / "deep")
    assert result.returncode == 1
    # Named from where the command ran, so that the fix can be pasted.
    assert result.stderr == (
        "einigc: ../../gen/other_ops.py is stale; regenerate it with: einigc ../other.ein -o ../../gen/other_ops.py\n"
    )


@pytest.mark.slow  # starts processes
def test_output_defaults_to_the_command_lines_default(project):
    (project / "pyproject.toml").write_text('[tool.einigc]\noutputs = [{ source = "ops/specs.ein" }]\n')
    assert run_cli([], cwd=project).returncode == 0
    assert_files(project, {"ops/specs_generated.py": compile_source(SPEC, "specs.ein")})


@pytest.mark.slow  # starts processes
def test_array_of_tables_layout(project):
    (project / "pyproject.toml").write_text(
        '[[tool.einigc.outputs]]\nsource = "ops/specs.ein"\noutput = "gen/specs.py"\n', encoding="utf-8"
    )
    assert run_cli([], cwd=project).returncode == 0
    assert_files(project, {"gen/specs.py": compile_source(SPEC, "../ops/specs.ein")})


@pytest.mark.slow  # starts processes
def test_a_source_given_on_the_command_line_goes_to_its_configured_output(project):
    # As pre-commit passes changed .ein files: their outputs are the configured ones.
    result = run_cli(["ops/other.ein"], cwd=project)
    assert result.returncode == 0, result.stderr
    assert_files(project, {"gen/other_ops.py": built(project)["gen/other_ops.py"]})
    assert not (project / "ops" / "other_generated.py").exists()
    assert not (project / "ops" / "specs_generated.py").exists()


@pytest.mark.slow  # starts processes
def test_a_generated_module_and_its_source_are_checked_once(project):
    assert run_cli([], cwd=project).returncode == 0
    (project / "gen" / "other_ops.py").write_text(
        built(project)["gen/other_ops.py"].replace("def transpose(", "def t("), encoding="utf-8"
    )
    result = run_cli(["--check", "ops/other.ein", "gen/other_ops.py"], cwd=project)
    assert result.returncode == 1
    assert result.stderr.count("is stale") == 1
    assert result.stdout.count("+def transpose(") == 1


@pytest.mark.slow  # starts processes
def test_two_sources_for_one_output_is_an_error(project):
    assert run_cli([], cwd=project).returncode == 0
    # A module whose header names another source than the config does.
    module = project / "gen" / "other_ops.py"
    module.write_text(compile_source(SPEC, "../ops/specs.ein"), encoding="utf-8")
    result = run_cli(["ops/other.ein", "gen/other_ops.py"], cwd=project)
    assert result.returncode == 2
    assert "gen/other_ops.py: error: both ops/other.ein and ops/specs.ein would write it\n" in result.stderr
    assert module.read_text(encoding="utf-8") == compile_source(SPEC, "../ops/specs.ein")


# --- finding the file ------------------------------------------------------------


@pytest.mark.slow  # starts processes
def test_no_config_found(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    result = run_cli([], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"einigc: error: no FILE given, and no pyproject.toml with a [tool.einigc] table in {tmp_path} or above\n"
    )
    result = run_cli(["--check"], cwd=tmp_path)
    assert result.returncode == 2
    assert "no pyproject.toml with a [tool.einigc] table" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_a_nearer_pyproject_without_the_table_is_passed_over(project):
    inner = project / "ops" / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[tool.black]\nline-length = 100\n', encoding="utf-8")
    found = config.find(inner)
    assert found is not None and found.path == project / "pyproject.toml"
    assert [o.output for o in found.outputs] == [project / "ops/specs_generated.py", project / "gen/other_ops.py"]


def test_the_nearest_table_wins(project):
    inner = project / "ops"
    (inner / "pyproject.toml").write_text('[tool.einigc]\noutputs = [{ source = "specs.ein" }]\n', encoding="utf-8")
    found = config.find(inner)
    assert found.path == inner / "pyproject.toml"
    assert found.outputs == (config.Output(inner / "specs.ein", inner / "specs_generated.py"),)


# --- errors in the table -----------------------------------------------------------


def located(text: str, line: int, col: int, message: str) -> str:
    """An error as the table's errors read: the place relative to the current folder, the line and a caret."""
    source = text.splitlines()[line - 1]
    return f"pyproject.toml:{line}:{col}: error: {message}\n    {source}\n    {' ' * (col - 1)}^\n"


def config_error(tmp_path: Path, text: str) -> str:
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    result = run_main([], cwd=tmp_path)  # in this process: the text is the command's
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]
    return result.stderr


def test_unknown_key_in_the_table_is_an_error_at_its_line(tmp_path):
    text = '[project]\nname = "x"\n\n[tool.einigc]\nouputs = []\n'
    assert config_error(tmp_path, text) == (
        located(text, 5, 1, "unknown key 'ouputs' in [tool.einigc] (known: outputs, target)")
        + located(text, 4, 1, "[tool.einigc] has no 'outputs': list the generated modules there")
    )


def test_unknown_key_in_an_entry_is_an_error_at_its_line(tmp_path):
    text = (
        "[tool.einigc]\n"
        "outputs = [\n"
        '  { source = "a.ein", output = "a.py" },\n'
        '  { source = "b.ein", output = "b.py", framework = "torch" },\n'
        "]\n"
    )
    assert config_error(tmp_path, text) == located(
        text, 4, 40, "unknown key 'framework' in entry 2 of 'outputs' in [tool.einigc] (known: source, output, target)"
    )


def test_an_unknown_target_is_an_error_at_its_line(tmp_path):
    text = (
        "[tool.einigc]\n"
        'target = "pytorch"\n'
        "outputs = [\n"
        '  { source = "a.ein", output = "a.py", target = "mxnet" },\n'
        "]\n"
    )
    assert config_error(tmp_path, text) == (
        located(text, 2, 1, "'target' in [tool.einigc] must be one of tensorflow, torch, jax, numpy, not 'pytorch'")
        + located(
            text,
            4,
            40,
            "'target' in entry 1 of 'outputs' in [tool.einigc] must be one of tensorflow, torch, jax, numpy, not 'mxnet'",
        )
    )


def test_each_output_is_built_for_its_target_and_the_table_gives_the_default(tmp_path):
    (tmp_path / "a.ein").write_text('mm(a, b) = einsum("ij,jk->ik", a, b)\n', encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.einigc]\n"
        'target = "numpy"\n'
        "outputs = [\n"
        '  { source = "a.ein", output = "a_np.py" },\n'
        '  { source = "a.ein", output = "a_tf.py", target = "tensorflow" },\n'
        "]\n",
        encoding="utf-8",
    )
    assert run_main([], cwd=tmp_path).returncode == 0
    assert "import numpy as np\n" in (tmp_path / "a_np.py").read_text(encoding="utf-8")
    tf_module = (tmp_path / "a_tf.py").read_text(encoding="utf-8")
    assert tf_module.splitlines()[1].startswith("# Target: tensorflow.")
    assert "import tensorflow as tf\n" in tf_module and "import numpy" not in tf_module
    assert run_main(["--check"], cwd=tmp_path).returncode == 0
    # --target picks the configured outputs of that target only.
    (tmp_path / "a_np.py").unlink()
    assert run_main(["--check", "--target", "tensorflow"], cwd=tmp_path).returncode == 0
    assert run_main(["--check", "--target", "numpy"], cwd=tmp_path).returncode == 1


def test_entry_without_source_and_a_path_that_is_not_a_string(tmp_path):
    text = '[tool.einigc]\noutputs = [\n  { output = "a.py" },\n  { source = 3 },\n]\n'
    assert config_error(tmp_path, text) == (
        located(text, 3, 3, "entry 1 of 'outputs' in [tool.einigc] has no 'source'")
        + located(text, 4, 5, "'source' in entry 2 of 'outputs' in [tool.einigc] must be a path (a non-empty string)")
    )


@pytest.mark.parametrize(
    "table, message",
    [
        ("outputs = []\n", "'outputs' in [tool.einigc] is empty: there is nothing to build"),
        ('outputs = "a.ein"\n', "'outputs' in [tool.einigc] must be a list of tables"),
    ],
)
def test_outputs_that_list_nothing(tmp_path, table, message):
    text = "[tool.einigc]\n" + table
    assert config_error(tmp_path, text) == located(text, 2, 1, message)


def test_the_table_must_be_a_table(tmp_path):
    assert config_error(tmp_path, '[tool]\neinigc = "yes"\n') == (
        "pyproject.toml: error: [tool.einigc] must be a table\n"
    )


def test_two_entries_writing_one_output(tmp_path):
    text = (
        "[tool.einigc]\n"
        "outputs = [\n"
        '  { source = "a.ein", output = "x.py" },\n'
        '  { source = "b.ein", output = "./x.py" },\n'
        "]\n"
    )
    assert config_error(tmp_path, text) == located(
        text, 4, 3, "entries 1 and 2 of 'outputs' in [tool.einigc] both write x.py"
    )


def test_toml_syntax_error_has_line_and_column(tmp_path):
    text = '[tool.einigc]\noutputs = [\n  { source = "a.ein" output = "a.py" },\n]\n'
    stderr = config_error(tmp_path, text)
    assert stderr.startswith("pyproject.toml:3:22: error: ")
    assert stderr.endswith('\n      { source = "a.ein" output = "a.py" },\n' + " " * 25 + "^\n")
    assert "(at line" not in stderr


@pytest.mark.slow  # starts processes
def test_a_broken_table_also_stops_a_build_of_one_source(tmp_path):
    # The source's outputs may be listed there: a misspelt table is never read as "none".
    (tmp_path / "a.ein").write_text(SPEC, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.einigc]\nouputs = []\n", encoding="utf-8")
    result = run_cli(["a.ein"], cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown key 'ouputs'" in result.stderr
    assert not (tmp_path / "a_generated.py").exists()
    # With -o the table is not needed, and not read.
    assert run_cli(["a.ein", "-o", "a.py"], cwd=tmp_path).returncode == 0


@pytest.mark.slow  # starts processes
def test_minus_o_without_a_source(project):
    result = run_cli(["-o", "x.py"], cwd=project)
    assert result.returncode == 2
    assert result.stderr == "einigc: error: -o needs the SPEC.ein to compile\n"


# --- Python 3.10: tomli -------------------------------------------------------------


@pytest.mark.slow  # starts processes
def test_python_3_10_reads_the_table_with_tomli(project):
    # tomllib is 3.11+; setup.cfg installs tomli below that, and config uses it.
    program = (
        "import sys, tomllib, types\n"
        "fake = types.ModuleType('tomli')\n"
        "fake.loads, fake.TOMLDecodeError = tomllib.loads, tomllib.TOMLDecodeError\n"
        "sys.modules['tomli'] = fake\n"
        "del sys.modules['tomllib'], tomllib\n"
        "sys.version_info = (3, 10, 14, 'final', 0)\n"
        "from pathlib import Path\n"
        "from einigc import config\n"
        "assert config.tomllib is fake, config.tomllib\n"
        "print(len(config.find(Path.cwd()).outputs))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2\n"


def test_setup_cfg_requires_tomli_below_3_11():
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg", encoding="utf-8")
    requirements = [line.strip() for line in parser["options"]["install_requires"].splitlines()]
    assert 'tomli>=1.1; python_version < "3.11"' in requirements


def test_rebuilding_or_checking_a_module_keeps_the_target_its_header_names(tmp_path):
    # Without [tool.einigc] and without --target, a module einigc wrote keeps its framework.
    (tmp_path / "ops.ein").write_text('mm(a, b) = einsum("ij,jk->ik", a, b)\n', encoding="utf-8")
    assert run_main(["ops.ein", "--target", "numpy"], cwd=tmp_path).returncode == 0
    module = tmp_path / "ops_generated.py"
    written = module.read_text(encoding="utf-8")
    assert written.splitlines()[1].startswith("# Target: numpy.")
    assert run_main(["--check", "ops.ein"], cwd=tmp_path).returncode == 0
    assert run_main(["--check", "ops.ein", "ops_generated.py"], cwd=tmp_path).returncode == 0
    assert run_main(["ops.ein"], cwd=tmp_path).returncode == 0
    assert module.read_text(encoding="utf-8") == written
    assert run_main(["ops.ein", "-o", "ops_generated.py"], cwd=tmp_path).returncode == 0
    assert module.read_text(encoding="utf-8") == written
    # --target still says otherwise, and a stale module's advice names the target.
    assert run_main(["ops.ein", "--target", "tensorflow"], cwd=tmp_path).returncode == 0
    assert module.read_text(encoding="utf-8").splitlines()[1].startswith("# Target: tensorflow.")
    module.write_text(written.replace("np.matmul", "np.dot"), encoding="utf-8")
    result = run_main(["--check", "ops.ein"], cwd=tmp_path)
    assert result.returncode == 1
    assert "regenerate it with: einigc ops.ein --target numpy -o ops_generated.py" in result.stderr


def test_the_caret_is_on_the_key_not_in_a_comment_or_a_string(tmp_path):
    text = (
        "[tool.einigc]\n"
        '# target = "torch"\n'
        'target = "pytorch"\n'
        'outputs = [ { source = "a target = b.ein", output = "a.py", target = "tf" } ]\n'
    )
    assert config_error(tmp_path, text) == (
        located(text, 3, 1, "'target' in [tool.einigc] must be one of tensorflow, torch, jax, numpy, not 'pytorch'")
        + located(
            text,
            4,
            61,
            "'target' in entry 1 of 'outputs' in [tool.einigc] must be one of tensorflow, torch, jax, numpy, not 'tf'",
        )
    )
