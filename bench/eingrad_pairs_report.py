"""The report of bench/eingrad_pairs.py: the generated docstrings' lowering notes, the table, bench/results/eingrad_pairs.md."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

from bench.eingrad_pairs_programs import HAND_WRITTEN, SIGNATURES

TARGET_TITLES = {"tensorflow": "TensorFlow", "torch": "PyTorch", "jax": "JAX"}
# A section of an earlier eingrad_pairs.md from this heading on is not the bench's: it is kept as it was.
KEPT_HEADING = "## Peak memory of the large GGN-vector product"


def lowering_notes(doc: str) -> list[str]:
    """The `lowering:` notes of a generated docstring, in order (the last is the whole spec's), each on one line."""
    notes, indent = [], None
    for line in inspect.cleandoc(doc or "").splitlines():
        text = line.strip()
        depth = len(line) - len(line.lstrip())
        if text.startswith("lowering:"):
            notes.append(text[len("lowering:") :].strip())
            indent = depth
        elif indent is not None and text and depth > indent:
            notes[-1] += " " + text
        else:
            indent = None
    return notes


def strategy(notes: list[str]) -> str:
    """The strategy the docstring states for the whole spec: its last note without the clauses that give reasons,
    its "(above)" spelled out with the notes above it (the pairs' own lowerings)."""
    # The note that `...` beside '%' is a composite says how the spec reads, not how it is lowered.
    notes = [note for note in notes if not note.startswith("'...' beside '%'")]
    if not notes:
        return ""
    whole = _without_reasons(notes[-1])
    above = " / ".join(dict.fromkeys(_without_reasons(note) for note in notes[:-1]))
    return whole.replace("(above)", f"({above})", 1) if above else whole


def _without_reasons(note: str) -> str:
    clauses = note.split("; ")
    kept = [c for c in clauses if not c.startswith(("chosen", "no JVP", "a JVP-then-VJP chain (as in"))]
    return "; ".join(kept or clauses)


def _ms(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def _ratio(value) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.2f}×"


def _diff(value) -> str:
    return "n/a" if value is None else f"{value:.1e}"


def _rounds(sections: dict) -> str:
    counts = [r["rounds"] for sec in sections.values() for r in sec["rows"]]
    low, high = min(counts, default=0), max(counts, default=0)
    return f"{low}" if low == high else f"{low} to {high}"


def row_summary(row: dict) -> str:
    return f"{row['mode']} {_ms(row['einig_ms'])} / {_ms(row['hand_ms'])} ms = {_ratio(row['ratio'])}"


def table(sections: dict) -> str:
    """The markdown table: a row per form and target, its eager and compiled modes side by side."""
    lines = [
        "| form | target | eager: einig ms | hand ms | einig / hand | compiled: einig ms | hand ms | einig / hand "
        "| max rel. diff | strategy chosen |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for form in SIGNATURES:
        for target, section in sections.items():
            rows = [r for r in section["rows"] if r["form"] == form]
            cells = [form, target]
            for row in rows:
                cells += [_ms(row["einig_ms"]), _ms(row["hand_ms"]), _ratio(row["ratio"])]
            diffs = [r["diff"] for r in rows if r["diff"] is not None]
            cells += [_diff(max(diffs) if diffs else None), rows[0]["strategy"]]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(meta: dict, sections: dict, spec: str, sizes: dict, previous: Path) -> str:
    """The whole of eingrad_pairs.md."""
    s = sizes
    p = s["features"] * s["units"]
    load = ", ".join(f"{a:.1f} → {b:.1f}" for a, b in zip(meta["load"][0][:1], meta["load"][1][:1]))
    versions = "; ".join(", ".join(f"{k} {v}" for k, v in sec["versions"].items()) for sec in sections.values())
    out = [
        "# eingrad with several `%` pairs: generated vs hand-written programs, every autodiff target (CPU)",
        "",
        f"`{meta['command']}` ({'part of `make bench`' if meta['kind'] == 'full' else 'a smoke run'}), "
        f"{meta['date']}, {meta['machine']}: the shared development machine (load average {load} over the run), "
        f"so ratios, not absolute times. {meta['threads']} thread(s) per framework; {versions}. "
        f"The whole run took {meta['total_s']:.0f} s "
        + "("
        + ", ".join(f"{t} {sec['wall_s']:.0f} s" for t, sec in sections.items())
        + ", each in its own process, compiling included).",
        "",
        f"Sizes: f(w) = tanh(X W - mean_b(X W)) with X {s['b']}x{s['features']}, W {s['features']}x{s['units']} "
        f"({p} weights, {s['b'] * s['units']} outputs; the batch mean makes rows interact); g the same with X2 "
        f"{s['b2']}x{s['features']} ({s['b2'] * s['units']} outputs); mixed: fa(x) = tanh(A x), fb(x) = tanh(B x) * sum(x), "
        f"A {s['i']}x{s['j']}, B {s['k']}x{s['j']}; rows: row(x)[b] = sum_j tanh(x[b, j]) * sum_j x[b, j], "
        f"x {s['rows']}x{s['row_length']} (a row's entries interact, rows do not). float32.",
        "",
        "Method: per form, the generated function and the hand-written program, each eagerly and compiled, interleaved in "
        "a fresh random order each round after warm-up calls (the first traces or compiles; bench/timing.py), medians "
        f"of {_rounds(sections)} rounds. "
        "Compiled is tf.function, torch.compile (inductor) or jax.jit. Max rel. diff = max |result - hand-written eager "
        "result| / max |hand-written eager result| over the form's four results. The strategy is the whole spec's "
        '`lowering:` note of the generated docstring without its reasons, its "(above)" replaced by the pairs\' own '
        "notes (all the notes, reasons included, are below).",
        "",
        "```",
        spec.rstrip(),
        "```",
        "",
        "The hand-written programs:",
        "",
        "| form | " + " | ".join(TARGET_TITLES[t] for t in sections) + " |",
        "|---|" + "---|" * len(sections),
    ]
    out += ["| " + " | ".join([form] + [HAND_WRITTEN[t][form] for t in sections]) + " |" for form in SIGNATURES]
    out += ["", table(sections), ""]
    notes = [f"- {t}: {note}" for t, sec in sections.items() for note in sec["notes"]]
    out += (["Notes:", ""] + notes + [""]) if notes else []
    out += _lowering_section(sections)
    out += _kept(previous)
    return "\n".join(out).rstrip() + "\n"


def _lowering_section(sections: dict) -> list[str]:
    out = ["## The lowering notes of the generated docstrings", ""]
    for form in SIGNATURES:
        by_notes = {}
        for target, section in sections.items():
            by_notes.setdefault(tuple(section["lowering"][form]), []).append(target)
        for notes, targets in by_notes.items():
            out.append(f"- {form} ({', '.join(targets)}): " + " / ".join(notes))
    return out + [""]


def _kept(previous: Path) -> list[str]:
    if not previous.exists():
        return []
    text = previous.read_text()
    return [text[text.index(KEPT_HEADING) :].rstrip(), ""] if KEPT_HEADING in text else []
