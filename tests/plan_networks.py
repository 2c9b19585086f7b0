"""Tensor networks for planning tests and `make bench`: chains, rings, stars, random regular graphs.

Each network is (name, inputs, output, sizes) in the form `plan_contraction`
takes: operands as tuples of symbols, sizes as {symbol: (size, source)}.
Everything is fixed by the arguments (random graphs by a seed).
"""

from __future__ import annotations

import random

import opt_einsum

Network = tuple[str, list[tuple[str, ...]], tuple[str, ...], dict[str, tuple[int, str]]]


def _sized(sizes: dict[str, int]) -> dict[str, tuple[int, str]]:
    return {s: (n, "where ~") for s, n in sizes.items()}


def chain(n: int, seed: int = 0) -> Network:
    """A product of n matrices of skewed sizes (2 to 1000): `ab,bc,...->a?`."""
    rng = random.Random(seed)
    letters = [f"c{k}" for k in range(n + 1)]
    inputs = [(letters[k], letters[k + 1]) for k in range(n)]
    sizes = {s: rng.choice((2, 10, 100, 1000)) for s in letters}
    return f"chain {n}", inputs, (letters[0], letters[-1]), _sized(sizes)


def ring(n: int) -> Network:
    """The trace of a product of n matrices, all axes the default size."""
    letters = [f"r{k}" for k in range(n)]
    inputs = [(letters[k], letters[(k + 1) % n]) for k in range(n)]
    return f"ring {n}", inputs, (), {}


def star(n: int) -> Network:
    """A hub with n - 1 legs of size 2, each contracted with a vector: `abc..,a,b,c,..->`."""
    legs = [f"s{k}" for k in range(n - 1)]
    inputs = [tuple(legs)] + [(s,) for s in legs]
    return f"star {n}", inputs, (), _sized({s: 2 for s in legs})


def shared(n: int) -> Network:
    """n vectors sharing one letter, summed: `i,i,...,i->`."""
    return f"i,i,...,i-> {n}", [("i",)] * n, (), {}


def random_regular(n: int, degree: int = 3, seed: int = 0, size: int = 4) -> Network:
    """n tensors, each edge of a random `degree`-regular graph an axis of `size`."""
    rng = random.Random(seed)
    while True:  # the configuration model, redrawn until simple
        stubs = [node for node in range(n) for _ in range(degree)]
        rng.shuffle(stubs)
        edges = list(zip(stubs[::2], stubs[1::2]))
        if all(a != b for a, b in edges) and len({tuple(sorted(e)) for e in edges}) == len(edges):
            break
    inputs = [tuple(f"e{k}" for k, edge in enumerate(edges) if node in edge) for node in range(n)]
    return f"random {degree}-regular {n}", inputs, (), _sized({f"e{k}": size for k in range(len(edges))})


def networks() -> list[Network]:
    """The networks `make bench` reports and the tests check, up to 100 operands."""
    return [
        *(chain(n) for n in (10, 30, 100)),
        *(ring(n) for n in (10, 30, 100)),
        *(star(n) for n in (10, 30, 100)),
        *(shared(n) for n in (15, 20, 50, 100)),
        *(random_regular(n) for n in (10, 20, 30, 50, 100)),
    ]


def small_networks() -> list[Network]:
    """Networks small enough for opt_einsum's exhaustive "optimal" to finish."""
    return [chain(6), ring(7), random_regular(8, seed=1)]


def equation(inputs, output, sizes, default: int = 64) -> tuple[str, list[tuple[int, ...]]]:
    """The network as opt_einsum takes it: an equation of single letters, and shapes."""
    letters: dict[str, str] = {}
    for s in [s for op in inputs for s in op] + list(output):
        letters.setdefault(s, opt_einsum.get_symbol(len(letters)))

    def word(symbols) -> str:
        return "".join(letters[s] for s in symbols)

    eq = ",".join(word(op) for op in inputs) + "->" + word(output)
    return eq, [tuple(sizes.get(s, (default,))[0] for s in op) for op in inputs]
