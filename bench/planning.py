"""Planning at scale: einigc's contraction order against opt_einsum's searches.

For each network of tests/plan_networks.py (chains, rings, stars, one shared
letter, random regular graphs; up to 100 operands) it reports the planning
time and planned FLOPs of einigc, and the FLOPs and time of opt_einsum's
greedy, random-greedy (32 trials), dp and optimal, each in a child process
stopped after --timeout seconds (or 4 GiB of memory). Writes
bench/results/planning.md.

    python bench/planning.py [--timeout 15]
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH.parent) not in sys.path:
    sys.path.insert(0, str(BENCH.parent))

import opt_einsum  # noqa: E402

from einigc.plan import DEFAULT_SIZE, STRATEGY_TEXT, plan_contraction  # noqa: E402
from tests import plan_networks  # noqa: E402

SEARCHES = ("greedy", "random-greedy", "dp", "optimal")
MEMORY_LIMIT = 4 << 30


def _search(eq, shapes, search, queue) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    optimize = opt_einsum.RandomGreedy(max_repeats=32) if search == "random-greedy" else search
    start = time.perf_counter()
    info = opt_einsum.contract_path(eq, *shapes, shapes=True, optimize=optimize)[1]
    queue.put((int(info.opt_cost), time.perf_counter() - start))


def reference(eq, shapes, search, timeout):
    """(FLOPs, seconds) of one opt_einsum search, or None when it did not finish."""
    queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_search, args=(eq, shapes, search, queue))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.terminate()
        child.join()
        return None
    return queue.get() if child.exitcode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per opt_einsum search")
    parser.add_argument("--out", default=str(BENCH / "results" / "planning.md"))
    args = parser.parse_args()
    rows = []
    for name, inputs, output, sizes in plan_networks.small_networks() + plan_networks.networks():
        start = time.perf_counter()
        plan = plan_contraction(inputs, output, sizes)
        seconds = time.perf_counter() - start
        eq, shapes = plan_networks.equation(inputs, output, sizes, DEFAULT_SIZE)
        found = {s: reference(eq, shapes, s, args.timeout) for s in SEARCHES}
        best = min(flops for flops, _ in filter(None, found.values()))
        cells = [
            f"{flops:.3g} ({t:.2f} s)" if result else f"> {args.timeout:g} s"
            for result in found.values()
            for flops, t in [result or (0, 0)]
        ]
        planned = plan.planned_flops
        ours = [name, str(len(inputs)), f"{seconds:.2f} s", f"{planned:.3g}", f"{planned / best:.3f}", plan.strategy]
        rows.append("| " + " | ".join(ours + cells) + " |")
        print(rows[-1], flush=True)
    header = [
        "# Planning at scale",
        "",
        f"`python bench/planning.py`: einigc's plan against opt_einsum {opt_einsum.__version__}'s searches"
        f" ({platform.python_implementation()} {platform.python_version()}, {platform.machine()}).",
        "FLOPs as opt_einsum counts them; the ratio is einigc's planned FLOPs over the best opt_einsum"
        " search that finished; `> N s`: stopped after N seconds or 4 GiB. opt_einsum is called as users"
        " call it (letters as strings): its greedy and random-greedy orders change with PYTHONHASHSEED.",
        "Strategies: " + "; ".join(f"{key}: {text}" for key, text in STRATEGY_TEXT.items()) + ".",
        "",
        "| network | operands | einigc planning | einigc FLOPs | vs best | strategy | "
        + " | ".join(f"opt_einsum {s}" for s in SEARCHES)
        + " |",
        "|" + "---|" * (6 + len(SEARCHES)),
    ]
    Path(args.out).write_text("\n".join(header + rows) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
