"""The report: results.md, results.json, the chart of ratios and the summary printed at the end."""

from __future__ import annotations

import json
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from bench.cases import MODES
from bench.compiled import short_error
from bench.memory import MEMORY_EQ

REPO = Path(__file__).resolve().parent.parent

# The summary lists rows where the generated code is slower than this ratio:
# medians of interleaved runs on a shared 2-core machine move by a few percent.
LOSS = 1.05


@dataclass
class Results:
    """Everything one run measured, as the report's sections read it."""

    meta: dict
    rows: list  # one dict per case and mode
    flops: list  # one dict per case (bench.plans.flops_report)
    memory: dict
    compile: dict
    help: dict
    eingrad: dict
    notes: list


def fmt_us(value) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}×"


def fmt_int(value) -> str:
    return "n/a" if value is None else f"{value:,}"


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "einigc"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        return rev + (" (einigc/ has uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def write_chart(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    cases = []
    for row in rows:
        if row["case"] not in cases:
            cases.append(row["case"])
    fig, ax = plt.subplots(figsize=(max(8, 0.75 * len(cases) + 2), 5.5))
    width = 0.27
    colors = {"eager": "#4c72b0", "function": "#dd8452", "xla": "#55a868"}
    values_seen = []
    for m, mode in enumerate(MODES):
        xs, ys, missing = [], [], []
        for c, case in enumerate(cases):
            row = next((r for r in rows if r["case"] == case and r["mode"] == mode), None)
            ratio = row and row.get("gen_over_hand")
            x = c + (m - 1) * width
            if ratio:
                xs.append(x)
                ys.append(ratio)
                values_seen.append(ratio)
            else:
                missing.append(x)
        # Bars grow from 1×: up = generated slower, down = generated faster.
        ax.bar(xs, [y - 1 for y in ys], width, bottom=1, label=mode, color=colors[mode])
        for x in missing:
            ax.text(x, 1.0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}×"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    if values_seen:
        ax.set_ylim(min(0.5, min(values_seen) / 1.3), max(2.0, max(values_seen) * 1.3))
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases, rotation=30, ha="right")
    ax.set_ylabel("generated / hand-written (median time, log)")
    ax.set_title("einigc generated code vs expert hand-written TF (below 1 = generated faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render_markdown(r: Results) -> str:
    """results.md: the timing table, notes, FLOPs, memory, compile time and eingrad sections."""
    sections = [_timing(r.meta, r.rows), _notes(r.notes), _flops(r.flops), _memory(r.memory)]
    sections += [_compile(r.meta, r.compile, r.help), _eingrad(r.eingrad)]
    return "\n".join(line for section in sections for line in section)


def _timing(meta, rows) -> list[str]:
    """The run's header and the table of median times."""
    out = []
    out.append("# einigc benchmark results")
    out.append("")
    out.append(
        f"{meta['kind']} run; TensorFlow {meta['tf']}, numpy {meta['numpy']}, opt_einsum {meta['opt_einsum']}, "
        f"Python {meta['python']}, {meta['cpus']} CPU(s), {meta['machine']}; einigc at {meta['git']}, "
        f"generated module sha256 {meta['generated_sha256']}… (copies of the measured generated code: generated/); "
        f"{meta['date']}; total {meta['total_s']:.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in meta['phases_s'].items())}); load average (1/5/15 min) "
        f"{'/'.join(f'{x:.2f}' for x in meta['load_before'])} at the start, "
        f"{'/'.join(f'{x:.2f}' for x in meta['load_after'])} at the end."
    )
    out.append("")
    out.append(
        "Median wall time per call in µs, measured in one process, interleaved in a fresh random order each round over the nine TF "
        "variants of a case (3 implementations × 3 modes; numpy's two variants interleaved with each other "
        "afterwards) after warm-ups (first call of tf.function / XLA variants traces and is not timed). "
        "`np False` / `np True`: np.einsum(optimize=False / True), eager rows only. "
        "Ratios: generated / hand-written and generated / tf.einsum (below 1 = generated faster)."
    )
    out.append("")
    out.append("| case | spec | mode | generated µs | hand µs | tf.einsum µs | np False µs | np True µs | gen/hand | gen/tf.einsum |")
    out.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        npf = fmt_us(row.get("np False")) if row["mode"] == "eager" else "—"
        npt = fmt_us(row.get("np True")) if row["mode"] == "eager" else "—"
        if row["mode"] == "eager" and row.get("np False") is None and row.get("np False note"):
            npf = "skipped"
        out.append(
            f"| {row['case']} | `{row['spec']}` | {row['mode']} | {fmt_us(row['generated'])} | {fmt_us(row['hand'])} | "
            f"{fmt_us(row['tf.einsum'])} | {npf} | {npt} | {fmt_ratio(row['generated'], row['hand'])} | "
            f"{fmt_ratio(row['generated'], row['tf.einsum'])} |"
        )
    out.append("")
    out.append("Sizes per case: " + "; ".join(f"{name}: {', '.join(f'{k}={v}' for k, v in s.items())}" for name, s in meta["sizes"].items()) + ".")
    out.append("")
    return out


def _notes(notes) -> list[str]:
    """What the run noticed: mismatches, n/a variants, reformulated tf.einsum columns."""
    out = []
    out.append("## Notes")
    out.append("")
    for note in notes:
        out.append(f"- {note}")
    out.append("")
    return out


def _flops(flops) -> list[str]:
    """The plan's FLOPs at the benchmarked sizes against opt_einsum's."""
    out = []
    out.append("## Contraction FLOPs at the benchmarked sizes")
    out.append("")
    out.append(
        "`einigc` is the pairwise order einigc planned (at compile time, from `where` sizes or the default; the "
        "generated docstring states it), costed at the benchmarked sizes; `einigc, sizes known` is what "
        "`einigc.plan.plan_contraction` chooses when given the benchmarked sizes; `docstring` is the FLOPs einigc "
        "planned for the sizes it assumed. opt_einsum cost model (a multiply-add counts 2)."
    )
    out.append("")
    out.append("| case | spec | einigc | einigc, sizes known | opt_einsum greedy | opt_einsum optimal | einigc/optimal | greedy/optimal | docstring | einigc order |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in flops:
        if "skip" in row:
            out.append(f"| {row['case']} | `{row['spec']}` | — | — | — | — | — | — | — | {row['skip']} |")
            continue
        order = row.get("order", "")
        if row.get("note"):
            order += f" ({row['note']})"
        out.append(
            f"| {row['case']} | `{row['spec']}` | {fmt_int(row['einigc'])} | {fmt_int(row.get('einigc_known_sizes'))} | "
            f"{fmt_int(row['greedy'])} | {fmt_int(row['optimal'])} | {fmt_ratio(row['einigc'], row['optimal'])} | "
            f"{fmt_ratio(row['greedy'], row['optimal'])} | {fmt_int(row.get('doc_flops'))} | {order} |"
        )
    out.append("")
    return out


def _memory(memory) -> list[str]:
    """Peak memory of the exponential-space case."""
    out = []
    out.append("## Peak memory: exponential-space case")
    out.append("")
    out.append(
        f"`chain6` = `{MEMORY_EQ}` with every axis of size {memory['n']} (the naive broadcast product holds "
        f"{memory['n']}^7 = {memory['n'] ** 7:,} float32 = {memory['n'] ** 7 * 4 / 2**20:,.1f} MiB). One fresh "
        "subprocess per variant; the variant runs once eagerly after a warm-up at size 2. `peak RSS increase` = "
        "VmHWM after the call (reset via /proc/self/clear_refs just before it) minus VmRSS before it; "
        "`ru_maxrss` = resource.getrusage peak of the whole child process (includes importing TensorFlow, "
        f"and starts from the parent's RSS, {memory['parent_rss_kb'] / 1024:,.0f} MiB when the children ran); "
        "`TF allocator peak` = tf.config.experimental.get_memory_info('CPU:0') during the call."
    )
    out.append("")
    out.append("| variant | peak RSS increase KiB | ru_maxrss MiB | TF allocator peak KiB |")
    out.append("| --- | ---: | ---: | ---: |")
    for res in memory["results"]:
        if "error" in res:
            out.append(f"| {res['variant']} | error: {res['error']} | | |")
            continue
        inc = None
        if res.get("hwm_after_kb") is not None and res.get("rss_before_kb") is not None:
            inc = max(0, res["hwm_after_kb"] - res["rss_before_kb"])
        tfp = res.get("tf_peak_bytes")
        out.append(
            f"| {res['variant']} | {'n/a' if inc is None else f'{inc:,}'} | {res['ru_maxrss_kb'] / 1024:,.0f} | "
            f"{'—' if tfp is None else f'{tfp / 1024:,.1f}'} |"
        )
    out.append("")
    return out


def _compile(meta, c, help_res) -> list[str]:
    """Compile time of the many-declaration file and the command's start-up."""
    out = []
    out.append("## Compile time and start-up")
    out.append("")
    out.append(
        f"- Compiling a generated {c['declarations']:,}-declaration file (bench/build/decls{c['declarations']}.ein): "
        + (
            f"{c['in_process_s']:.2f} s in-process (`einigc.compiler.compile_text`, one run), "
            if "in_process_s" in c
            else f"in-process compile failed: {c.get('in_process_error')}; "
        )
        + f"{c['cli_wall_s']:.2f} s wall for the `einigc` command (median of {meta['compile_runs']})"
        + (f", error: {c['cli_error']}" if "cli_error" in c else "")
        + (f"; {c['generated_lines']:,} generated lines." if "generated_lines" in c else ".")
    )
    out.append(
        f"- `einigc --help`: {help_res['median_s'] * 1000:.0f} ms wall, median of {help_res['runs']} subprocess runs "
        f"(min {help_res['min_s'] * 1000:.0f} ms)."
    )
    out.append("")
    return out


def _eingrad(eingrad) -> list[str]:
    """The eingrad cases: times, skipped blocks, the references' agreement."""
    out = []
    out.append("## eingrad")
    out.append("")
    sz = eingrad["sizes"]
    out.append(
        f"Sizes i={sz['i']}, j={sz['j']}, b={sz['b']}, float32. Functions differentiated: y(x) = tanh(W x) "
        "(vjp, jacobian, jvp; W is i×j), tanh(W x) with square W (divergence), sum(tanh(W x)²) (hessian), "
        "per-row sum(tanh(x W)², axis=1) (batched_grad, batched_grad_exact), tanh(x W) (batched_jvp, "
        "batched_jacobian) and x * x (expression_jacobian, an einsum of x). `hand (tape)`: "
        "tape.gradient with output_gradients, tape.jacobian, nested tapes, ForwardAccumulator (jvp, batched_jvp). "
        "`naive loop`: one tape.gradient per output entry (per output column for batched_jvp), as with "
        "tf.gradients loops, then the einsum."
    )
    out.append("")
    if eingrad["traced_when_eager"]:
        out.append(
            "The generated " + ", ".join(f"`{n}`" for n in eingrad["traced_when_eager"]) + " carry a decorator "
            "that traces them into a tf.function when called eagerly (only functions that take no callable, "
            "for which a trace cannot go stale), so their `eager` row times a cached graph call while the eager "
            "hand-written and naive versions run op by op (pfor for tape.jacobian). The other eager Jacobians "
            "are computed afresh on every call: a loop of reverse passes up to 128 rows, tape.jacobian beyond."
        )
        out.append("")
    if eingrad["rows"]:
        out.append("| case | mode | generated µs | hand (tape) µs | naive loop µs | gen/hand | gen/naive |")
        out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for name, variants in eingrad["rows"]:
            for mode in MODES:
                t = {v.key: v.median_us for v in variants if v.mode == mode}
                out.append(
                    f"| {name} | {mode} | {fmt_us(t.get('generated'))} | {fmt_us(t.get('hand'))} | {fmt_us(t.get('naive loop'))} | "
                    f"{fmt_ratio(t.get('generated'), t.get('hand'))} | {fmt_ratio(t.get('generated'), t.get('naive loop'))} |"
                )
            for v in variants:
                if v.note:
                    out.append(f"- {name} {v.key} {v.mode}: {v.note}")
        out.append("")
    if eingrad["skipped"]:
        out.append("Not measured (einigc rejected the declaration, so there is no generated code to time):")
        out.append("")
        for name, reason in eingrad["skipped"]:
            out.append(f"- `{name}`: {reason}")
        out.append("")
    if eingrad["reference_checks"]:
        checks = ", ".join(
            f"{n} {e:.1e}" if isinstance(e, float) else f"{n} {e}" for n, e in eingrad["reference_checks"]
        )
        out.append(f"Hand-written tape references vs naive per-entry loops (relative error): {checks}.")
        out.append("")
    return out


def write_results(out_dir: Path, r: Results) -> None:
    """OUT/results.md, OUT/results.json and OUT/ratios.png (a chart that fails is reported, not fatal)."""
    (out_dir / "results.md").write_text(render_markdown(r) + "\n")
    (out_dir / "results.json").write_text(json.dumps(_json(r), indent=1, default=str) + "\n")
    try:
        chart_rows = list(r.rows)
        for name, variants in r.eingrad["rows"]:
            for mode in MODES:
                t = {v.key: v.median_us for v in variants if v.mode == mode}
                ratio = t["generated"] / t["hand"] if t.get("generated") and t.get("hand") else None
                chart_rows.append({"case": f"eingrad {name}", "mode": mode, "gen_over_hand": ratio})
        write_chart(out_dir / "ratios.png", chart_rows)
    except Exception as exc:  # noqa: BLE001
        print(f"[bench] chart failed: {short_error(exc)}", file=sys.stderr)
        traceback.print_exc()


def _json(r: Results) -> dict:
    return {
        "meta": r.meta,
        "rows": [dict(row) for row in r.rows],
        "flops": r.flops,
        "memory": r.memory,
        "compile": r.compile,
        "help": r.help,
        "eingrad_skipped": r.eingrad["skipped"],
        "eingrad_rows": [
            {"case": n, "key": v.key, "mode": v.mode, "median_us": v.median_us, "note": v.note}
            for n, vs in r.eingrad["rows"]
            for v in vs
        ],
        "notes": r.notes,
    }


def print_summary(r: Results, out_dir: Path) -> None:
    """The few lines `make bench` ends with: losses, plans off optimal, memory, compile time, mismatches."""
    meta, rows = r.meta, r.rows
    lines = ["", f"einigc benchmark summary ({meta['kind']}, {meta['total_s']:.0f} s; full table: {out_dir / 'results.md'})"]
    lines.append("  phases: " + ", ".join(f"{k} {v:.0f} s" for k, v in meta["phases_s"].items()))
    losses_hand = [row for row in rows if row["gen_over_hand"] and row["gen_over_hand"] > LOSS]
    losses_einsum = [row for row in rows if row["gen_over_einsum"] and row["gen_over_einsum"] > LOSS]
    lines.append(f"  generated more than {LOSS - 1:.0%} slower than hand-written in {len(losses_hand)} of {len(rows)} case/mode rows:")
    for row in sorted(losses_hand, key=lambda row: -row["gen_over_hand"]):
        lines.append(f"    {row['case']:<13} {row['mode']:<8} {row['gen_over_hand']:.2f}×  ({fmt_us(row['generated'])} vs {fmt_us(row['hand'])} µs)")
    lines.append(f"  generated more than {LOSS - 1:.0%} slower than tf.einsum in {len(losses_einsum)} of {len(rows)} rows:")
    for row in sorted(losses_einsum, key=lambda row: -row["gen_over_einsum"]):
        lines.append(f"    {row['case']:<13} {row['mode']:<8} {row['gen_over_einsum']:.2f}×  ({fmt_us(row['generated'])} vs {fmt_us(row['tf.einsum'])} µs)")
    na = [row for row in rows if row["generated"] is None]
    if na:
        lines.append("  generated n/a: " + ", ".join(f"{row['case']} {row['mode']}" for row in na))
    off = [f for f in r.flops if f.get("einigc") and f.get("optimal") and f["einigc"] > f["optimal"]]
    lines.append(
        "  plan FLOPs above opt_einsum optimal: "
        + (", ".join(f"{f['case']} {f['einigc'] / f['optimal']:.1f}×" for f in off) if off else "none")
    )
    lines += _summary_of_the_rest(r)
    print("\n".join(lines), flush=True)


def _summary_of_the_rest(r: Results) -> list[str]:
    lines, memory, c, help_res, eingrad = [], r.memory, r.compile, r.help, r.eingrad
    mem = []
    for res in memory["results"]:
        if res.get("hwm_after_kb") is not None and res.get("rss_before_kb") is not None:
            mem.append(f"{res['variant']} +{max(0, res['hwm_after_kb'] - res['rss_before_kb']):,} KiB")
        else:
            mem.append(f"{res['variant']} {res.get('error', 'n/a')}")
    lines.append(f"  peak RSS increase, chain6 at n={memory['n']}: " + "; ".join(mem))
    if "in_process_s" in c:
        lines.append(f"  compile {c['declarations']} declarations: {c['in_process_s']:.2f} s in-process, {c['cli_wall_s']:.2f} s CLI")
    else:
        lines.append(f"  compile {c['declarations']} declarations failed: {c.get('in_process_error')}")
    lines.append(f"  einigc --help: {help_res['median_s'] * 1000:.0f} ms (median of {help_res['runs']})")
    for name, variants in eingrad["rows"]:
        for mode in MODES:
            t = {v.key: v.median_us for v in variants if v.mode == mode}
            if t.get("generated") and t.get("hand") and t["generated"] / t["hand"] > LOSS:
                lines.append(
                    f"  eingrad {name} {mode}: generated {t['generated'] / t['hand']:.2f}× hand-written "
                    f"({fmt_us(t['generated'])} vs {fmt_us(t['hand'])} µs)"
                )
    if eingrad["skipped"]:
        lines.append(f"  eingrad: {len(eingrad['skipped'])} case(s) not measured: " + "; ".join(f"{n} ({why})" for n, why in eingrad["skipped"][:2]) + ("; ..." if len(eingrad["skipped"]) > 2 else ""))
    mismatches = [n for n in r.notes if "MISMATCH" in n or "differ" in n]
    if mismatches:
        lines.append("  NUMERICAL MISMATCHES: " + "; ".join(mismatches))
    return lines
