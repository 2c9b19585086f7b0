"""Every runtime's layout of a semiring pair (einmax, einmin, einlogsumexp) on plain Python data; copied with it, by source.

A pair of operands ("ij,jk->ik") adds them and reduces the contracted
letters by max, min or log-sum-exp. Which axes each operand reduces alone,
how the two line up so that `+` broadcasts them, and how the result is laid
out follow from the pair's equation alone, the same for every framework:
they are computed here, and each runtime makes its framework's calls. A
runtime module imports what it uses from here
(`from einigc.targets.semiring_rules import _SemiringLayout`); einigc copies
these definitions into the generated module in place of that import, so each
must read well there: no names but this module's definitions and `math`.
"""

import math


class _SemiringLayout:
    # A pair `equation` ("ij,jk->ik", "...j,jk->...k") as plain data, one
    # entry per operand in each list. `alone`: the axes of the letters that
    # only that operand has and the result drops, reduced in it first
    # (max_j (a + b_j) is a + max_j b_j); `words`: its letters after that.
    # `aligned`: how each lines up for the broadcast sum (_alignment), the
    # `contracted` letters last; `result_equation` lays the sum out as the
    # pair's result (None: it is). A log-sum-exp pair as a matrix product:
    # the `shared_axes` each operand is shifted over, the shifts' alignment
    # with the result (`shift_aligned`), the `product`'s einsum equation.

    def __init__(self, equation):
        words, result = equation.split("->")
        result = _semiring_letters(result)
        left, right = [_semiring_letters(word) for word in words.split(",")]
        self.alone, self.words = [], []
        for word, other in ((left, right), (right, left)):
            alone = [letter for letter in word if letter not in result + other]
            self.alone.append(tuple(_letter_axis(word, letter) for letter in alone))
            self.words.append([letter for letter in word if letter not in alone])
        left, right = self.words
        kept = [letter for letter in result if letter != "..."]
        shared = [letter for letter in left if letter in right and letter not in result]
        self.contracted = len(shared)
        self.aligned = [_alignment(word, kept + shared) for word in self.words]
        laid_out = (["..."] if "..." in result else []) + kept
        self.result_equation = None
        if laid_out != result:
            self.result_equation = f"{''.join(laid_out)}->{''.join(result)}"
        self.shared_axes = [
            tuple(_letter_axis(word, letter) for letter in shared) for word in self.words
        ]
        self.shift_aligned = [
            _alignment([letter for letter in word if letter not in shared], kept)
            for word in self.words
        ]
        product = (["..."] if "..." in left + right else []) + kept
        self.product = f"{''.join(left)},{''.join(right)}->{''.join(product)}"


def _semiring_letters(word):
    # "...ij" -> ["...", "i", "j"]
    return ["..." if letter == "." else letter for letter in word.replace("...", ".")]


def _letter_axis(word, letter):
    # The axis of `letter` in `word`, counted from the back after "...".
    index = word.index(letter)
    if "..." in word and index > word.index("..."):
        return index - len(word)
    return index


def _alignment(word, order):
    # How an operand with the distinct letters `word` lines up with `order`:
    # the einsum equation that puts its "..." axes first, then its letters
    # in the order of `order` (None: they already are), and where to insert
    # a size-1 axis for each letter of `order` it lacks, in turn, counted
    # from the back.
    letters = [letter for letter in order if letter in word]
    target = (["..."] if "..." in word else []) + letters
    moved = None if target == word else f"{''.join(word)}->{''.join(target)}"
    units = [
        -sum(other in word for other in order[position + 1 :]) - 1
        for position, letter in enumerate(order)
        if letter not in word
    ]
    return moved, units


def _block_shapes(a, b, count):
    # The shapes of two aligned operands `a` and `b` with their last
    # `count` axes (the contracted ones) as one, and leading size-1 axes up
    # to the same rank, as broadcasting would add them. Explicit sizes: a
    # -1 is ambiguous at size 0.
    a = tuple(a[:-count]) + (math.prod(a[-count:]),)
    b = tuple(b[:-count]) + (math.prod(b[-count:]),)
    rank = max(len(a), len(b))
    return (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b


def _block_length(block, shape):
    # How much of the contracted axis one block takes: as much as keeps its
    # broadcast sum at `block` elements beside a result of `shape`, at least 1.
    return max(block // max(math.prod(shape), 1), 1)
