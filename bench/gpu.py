"""The GPU benchmark's Python side (bench/gpu.sh runs it): torch or jax at GPU sizes, their bf16 matmul peak, and gpu.md.

`--probe` prints which frameworks see an NVIDIA GPU; `--framework F --json P`
measures one framework in this process (its plain matmul's peak, then every
case as in bench/targets.py: generated vs einsum vs hand-written, eager and
compiled) and writes P; `--report P... --out gpu.md` writes the report. With
`--dry-run` everything runs on the CPU at tiny sizes: the script's logic,
tested where there is no GPU (tests/test_bench_targets.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# JAX takes 75 % of the GPU's memory when it starts unless told not to.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

from bench.report import fmt_us  # noqa: E402
from bench.targets import case_runs, compile_generated, measure_target  # noqa: E402

# (case, sizes, dtype): matrix products large enough to approach the peak,
# the diagonals and the skewed chains at GPU sizes.
MATRIX = ("bmm3", "scores", "mix", "project", "composite", "bilinear", "chain6")
_BMM = dict(b=8, i=4096, j=4096, k=4096, l=4096)
_SKEWED = dict(b=32, i=4096, j=1024, k=1024, l=16)
_PROJECT = dict(b=8192, i=64, j=64, k=4096)
_ATTENTION = dict(b=64, q=2048, k=2048, d=128)
# In the order they run: should the deadline stop a slow run (each
# torch.compile takes seconds), the goals' cases have been measured first.
GPU_RUNS = [
    ("bmm3", _BMM, "bfloat16"),
    ("bmm3_skewed", _SKEWED, "bfloat16"),
    ("diag6", dict(i=24, j=24, k=24, l=24), "float32"),
    ("induced", dict(i=96, j=96), "float32"),
    ("chain", dict(a=8192, b=8, c=8192, d=8, e=8192), "float32"),
    ("scores", _ATTENTION, "bfloat16"),
    ("mix", _ATTENTION, "bfloat16"),
    ("project", _PROJECT, "bfloat16"),
    ("composite", dict(a=32, b=256, j=4096, c=64, d=64), "bfloat16"),
    ("bilinear", dict(b=4096, i=256, j=256, k=256), "bfloat16"),
    ("chain6", dict(a=4096, b=4096, c=4096, d=4096, e=4096, f=4096, g=4096), "bfloat16"),
    ("bmm3", _BMM, "float32"),
    ("bmm3_skewed", _SKEWED, "float32"),
    ("project", _PROJECT, "float32"),
    ("keepdims", dict(i=16384, j=16384), "float32"),
    ("small_matmul", dict(i=4, j=4, k=4), "float32"),
]
DRY_RUNS = [
    ("bmm3", dict(b=2, i=8, j=8, k=8, l=8), "bfloat16"),
    ("bmm3", dict(b=2, i=8, j=8, k=8, l=8), "float32"),
    ("bmm3_skewed", dict(b=2, i=16, j=4, k=4, l=2), "float32"),
    ("diag6", dict(i=2, j=3, k=4, l=5), "float32"),
    ("induced", dict(i=3, j=4), "float32"),
]
GPU_CFG = dict(budget=2.5, rmax=200, rmin=3, warmups=3)
DRY_CFG = dict(budget=0.1, rmax=4, rmin=2, warmups=1)
PEAK_N = {"gpu": 8192, "dry": 128}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probe", action="store_true", help="say which frameworks see an NVIDIA GPU")
    parser.add_argument("--framework", choices=("torch", "jax"))
    parser.add_argument("--json", type=Path, help="where --framework writes its results")
    parser.add_argument("--report", type=Path, nargs="*", help="results files to write --out from")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "gpu.md")
    parser.add_argument("--dry-run", action="store_true", help="on the CPU, tiny sizes: the logic only")
    parser.add_argument("--deadline-s", type=float, default=120.0, help="cases not started by then are skipped")
    args = parser.parse_args(argv)
    if args.probe:
        return probe()
    if args.framework:
        result = measure(args.framework, args.dry_run, args.deadline_s)
        args.json.write_text(json.dumps(result, indent=1, default=str) + "\n")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = [json.loads(p.read_text()) for p in args.report or [] if p.exists()]
    args.out.write_text(render(results, args.dry_run) + "\n")
    print(f"[gpu] wrote {args.out}", flush=True)
    return 0


def probe() -> int:
    """One line per framework: `FRAMEWORK gpu|nogpu|missing DETAIL`."""
    try:
        import torch

        cuda = torch.cuda.is_available()
        detail = torch.cuda.get_device_name(0) if cuda else f"torch {torch.__version__} sees no CUDA device"
        print(f"torch {'gpu' if cuda else 'nogpu'} {detail}")
    except ImportError as exc:
        print(f"torch missing {exc}")
    try:
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        detail = gpus[0].device_kind if gpus else f"jax {jax.__version__} sees only {jax.devices()[0].platform}"
        print(f"jax {'gpu' if gpus else 'nogpu'} {detail}")
    except (ImportError, RuntimeError) as exc:
        print(f"jax missing {exc}")
    return 0


def measure(name: str, dry: bool, deadline_s: float) -> dict:
    import numpy as np

    from bench.target_frameworks import load

    started = time.perf_counter()
    fw = load(name, "cpu" if dry else "cuda")
    generated, error = _generated(name)
    peaks = {dtype: _peak(name, fw, dtype, PEAK_N["dry" if dry else "gpu"]) for dtype in ("bfloat16", "float32")}
    rows, notes = [], [f"generated module: {error}"] if error else []
    for case, sizes, dtype in DRY_RUNS if dry else GPU_RUNS:
        if time.perf_counter() - started > deadline_s:
            notes.append(f"{case} {dtype}: not run (past the {deadline_s:.0f} s deadline)")
            continue
        runs = case_runs({case: sizes}, dtype)
        reference = "numpy" if dry else "einsum"  # GPU sizes are too large for float64 numpy
        r, n = measure_target(fw, runs, generated, DRY_CFG if dry else GPU_CFG, np.random.default_rng(7), reference)
        rows += r
        notes += n
    return {
        "framework": name,
        "dry_run": dry,
        "device": _device_name(name, fw),
        "versions": fw.info,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "total_s": time.perf_counter() - started,
        "peaks": peaks,
        "rows": rows,
        "notes": notes,
    }


def _generated(name: str):
    """The module compiled now, or the checked-in one measured on the CPU where einigc does not import here."""
    build = BENCH / "build" / f"gpu_cases_{name}.py"
    module, error = compile_generated(name, BENCH / "cases.ein", build)
    if module is not None:
        return module, ""
    snapshot = BENCH / "results" / "generated" / f"cases_{name}.py"
    if snapshot.exists():
        from bench.compiled import import_path

        return import_path(snapshot, f"snapshot_cases_{name}"), f"compiling failed ({error}); measured {snapshot.name}"
    return None, error


def _peak(name: str, fw, dtype: str, n: int) -> dict:
    """TFLOP/s of the framework's plain n×n×n matmul in `dtype` (median of 20 calls after warm-ups)."""
    import statistics

    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (fw.tensor(rng.standard_normal((n, n)).astype(np.float32), dtype) for _ in range(2))
    if name == "torch":
        import torch

        matmul = fw.wrap(torch.matmul, "eager")
    else:
        import jax.numpy as jnp

        matmul = fw.wrap(jnp.matmul, "jit")
    for _ in range(3):
        matmul(a, b)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        matmul(a, b)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"n": n, "median_us": median * 1e6, "tflops": 2 * n**3 / median / 1e12}


def _device_name(name: str, fw) -> str:
    if fw.device == "cpu":
        return f"CPU ({platform.machine()}, {os.cpu_count()} cores): dry run"
    if name == "torch":
        import torch

        return torch.cuda.get_device_name(0)
    return fw.info.get("device", "gpu")


def render(results: list[dict], dry: bool) -> str:
    lines = ["# einigc on an NVIDIA GPU: PyTorch and JAX", ""]
    if dry or any(r["dry_run"] for r in results):
        lines += ["**Dry run on the CPU at tiny sizes: these numbers test bench/gpu.sh's logic and mean nothing.**", ""]
    if not results:
        lines.append("No framework ran (see bench/gpu.sh's output).")
    lines.append(
        "`bench/gpu.sh`: per framework, one process; generated vs the framework's einsum vs hand-written, eager and "
        "compiled (torch.compile / jax.jit), interleaved, medians of synchronised calls (µs); each result checked "
        "against the framework's einsum. TFLOP/s: the contraction's FLOPs (opt_einsum's count) over the generated "
        "code's median; `of peak`: that over the framework's plain matmul's measured TFLOP/s in the same dtype."
    )
    lines.append("")
    for result in results:
        lines += _framework_section(result)
    return "\n".join(lines)


def _framework_section(result: dict) -> list[str]:
    peaks = result["peaks"]
    out = [f"## {result['framework']} on {result['device']}", ""]
    out.append(
        f"{', '.join(f'{k} {v}' for k, v in result['versions'].items())}; Python {result['python']}; {result['date']}; "
        f"{result['total_s']:.0f} s. Peak (plain matmul, n = {peaks['bfloat16']['n']}): "
        + ", ".join(f"{dtype} {p['tflops']:.1f} TFLOP/s" for dtype, p in peaks.items())
        + "."
    )
    out.append("")
    out.append(
        "| case | spec | dtype | mode | generated µs | hand µs | einsum µs | gen/hand | gen/einsum | TFLOP/s | of peak |"
    )
    out.append("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in result["rows"]:
        tflops = row["flops"] / row["generated"] / 1e6 if row["flops"] and row["generated"] else None
        name = row["case"].split()[0]
        share = tflops / peaks[row["dtype"]]["tflops"] if tflops and name in MATRIX else None
        out.append(
            f"| {row['case']} | `{row['spec']}` | {row['dtype']} | {row['mode']} | {fmt_us(row['generated'])} | "
            f"{fmt_us(row['hand'])} | {fmt_us(row['einsum'])} | {_ratio(row['gen_over_hand'])} | "
            f"{_ratio(row['gen_over_einsum'])} | {'n/a' if tflops is None else f'{tflops:.1f}'} | "
            f"{'—' if share is None else f'{share:.0%}'} |"
        )
    out.append("")
    out += [f"- {note}" for note in result["notes"]]
    out.append("")
    return out


def _ratio(value) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


if __name__ == "__main__":
    sys.exit(main())
