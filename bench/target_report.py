"""The per-target report: targets.md (a table per target, the issue's goals checked) and targets.json."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import fmt_us
from bench.target_eingrad import render as render_eingrad
from bench.target_frameworks import EINSUM_LABEL
from bench.target_versions import EINSUM_NOTES

# The goals: generated at most 1.0× the framework's einsum on every
# case; at least 5× faster on these (diagonals, induced diagonals, skewed
# chains).
SPEEDUP_CASES = ("diag6", "induced", "bmm3_skewed", "chain")
SPEEDUP = 5.0
# Medians of interleaved runs on this shared machine move by a few percent
# run to run: rows between 1.00× and this are listed apart from the rest.
NOISE = 1.05


def merge(path: Path, target: str, section: dict) -> dict:
    """targets.json's sections with `target`'s replaced (a run of one target keeps the others' last results)."""
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except ValueError:
            data = {}
    sections = data.get("targets", {})
    if any(s.get("meta", {}).get("kind") != section["meta"]["kind"] for s in sections.values()):
        sections = {}  # never mix a quick run's numbers into a full run's file
    sections[target] = section
    order = [t for t in EINSUM_LABEL if t in sections]
    return {"targets": {t: sections[t] for t in order}}


def write(out_dir: Path, data: dict, name: str = "targets") -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    (out_dir / f"{name}.md").write_text(render(data) + "\n")


def render(data: dict) -> str:
    lines = ["# einigc per-target benchmark (numpy, PyTorch, JAX on the CPU)", ""]
    lines += [
        "Median wall time per call in µs. For each case, all of a target's variants (generated, hand-written, "
        "the framework's einsum) in all its modes are timed in one process, interleaved in a fresh random order "
        "each round, after warm-ups (the first call, which compiles under torch.compile / jax.jit, is not timed); "
        "each variant's first result is checked against a float64 numpy reference. Ratios below 1: generated faster. "
        "`bench/run.py --target T` (bench/targets.py); the measured generated modules are in generated/.",
        "",
    ]
    for target, section in data["targets"].items():
        lines += _section(target, section)
    lines += _goals(data)
    return "\n".join(lines)


def _section(target: str, section: dict) -> list[str]:
    meta = section["meta"]
    einsum = EINSUM_LABEL[target]
    out = [f"## {target}", ""]
    out.append(
        f"{meta['kind']} run; {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}; Python {meta['python']}, "
        f"{meta['cpus']} CPU(s), {meta.get('threads', 'default')} thread(s) per framework; einigc at {meta['git']}; {meta['date']}; {meta['total_s']:.0f} s; load average "
        f"{'/'.join(f'{x:.2f}' for x in meta['load_before'])} at the start, "
        f"{'/'.join(f'{x:.2f}' for x in meta['load_after'])} at the end."
    )
    if meta.get("generated_error"):
        out.append("")
        out.append(f"**No generated module**: the compiler failed for this target: {meta['generated_error']}")
    out.append("")
    out.append(f"| case | spec | mode | generated µs | hand µs | {einsum} µs | gen/hand | gen/einsum |")
    out.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for row in section["rows"]:
        out.append(
            f"| {row['case']} | `{row['spec']}` | {row['mode']} | {fmt_us(row['generated'])} | {fmt_us(row['hand'])} | "
            f"{fmt_us(row['einsum'])} | {_fmt(row['gen_over_hand'])} | {_fmt(row['gen_over_einsum'])} |"
        )
    out.append("")
    out.append(
        "Sizes: "
        + "; ".join(
            f"{case}: {', '.join(f'{k}={v}' for k, v in sizes.items())}" for case, sizes in meta["sizes"].items()
        )
        + "."
    )
    notes = [f"{case}: the einsum column is {note}" for case, note in EINSUM_NOTES.items()] + section["notes"]
    out.append("")
    out += [f"- {note}" for note in notes]
    out.append("")
    out += render_eingrad(target, section)
    return out


def _fmt(ratio) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}×"


def _goals(data: dict) -> list[str]:
    out = ["## The issue's goals", ""]
    out.append(
        f"At most 1.0× the framework's einsum on every case and mode; at least {SPEEDUP:g}× faster "
        f"(gen/einsum ≤ {1 / SPEEDUP:.2f}×) on {', '.join(SPEEDUP_CASES)}."
    )
    out.append("")
    out.append(
        f"| target | rows ≤ 1.00× | over {NOISE:.2f}× (gen/einsum) | 1.00–{NOISE:.2f}× | ≥ {SPEEDUP:g}× faster "
        f"| not ≥ {SPEEDUP:g}× faster (einsum/gen) |"
    )
    out.append("| --- | ---: | --- | --- | ---: | --- |")
    for target, section in data["targets"].items():
        rows = [r for r in section["rows"] if r["gen_over_einsum"] is not None]
        over = [r for r in rows if r["gen_over_einsum"] > NOISE]
        near = [r for r in rows if 1.0 < r["gen_over_einsum"] <= NOISE]
        fast = [r for r in rows if r["case"] in SPEEDUP_CASES]
        slow = [r for r in fast if r["gen_over_einsum"] > 1 / SPEEDUP]
        cells = [
            target,
            f"{len(rows) - len(over) - len(near)} of {len(rows)}",
            ", ".join(f"{r['case']} {r['mode']} {r['gen_over_einsum']:.2f}×" for r in over) or "—",
            ", ".join(f"{r['case']} {r['mode']} {r['gen_over_einsum']:.2f}×" for r in near) or "—",
            f"{len(fast) - len(slow)} of {len(fast)}",
            ", ".join(f"{r['case']} {r['mode']} {1 / r['gen_over_einsum']:.1f}×" for r in slow) or "—",
        ]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    return out


def summary(section: dict) -> list[str]:
    """A few lines for the console: the rows that miss the goals."""
    rows = [r for r in section["rows"] if r["gen_over_einsum"] is not None]
    over = [f"{r['case']} {r['mode']} {r['gen_over_einsum']:.2f}×" for r in rows if r["gen_over_einsum"] > 1.0]
    return [f"rows over 1.00× einsum: {', '.join(over) or 'none'} ({len(over)} of {len(rows)})"]
