"""Matrix products of runs of axes: the reshapes (views, no copies), one MatMul, the reshape back."""

from __future__ import annotations

from einigc import ir


class MatrixProducts:
    """The fused-matmul steps of a `Contraction` (its block, shapes, branches and the reshapes it made)."""

    def fused_matmul(self, hint: str, op: ir.FusedMatMul, comment: str, einsum: ir.Einsum) -> str | None:
        """A matrix product of runs of axes: reshapes (no copies), MatMul, reshape back.

        Eagerly, `einsum` (the same product as one op) instead: see `select`.
        """
        if not all(self.shapes.knows_size(s) for s in op.rows + op.inner + op.cols):
            return None  # sizes the reshapes need are only known to the data
        # Above the first statement of the step (passes.attach_comments): the
        # step's comment, then the note (which goes with the graph branch).
        if comment:
            self.block.add(ir.Comment(comment))
        graph = self.branch()
        name, product_name, reads = graph.matrix_product(hint, op)
        statements = graph.block.statements
        if not self.graph_only and _eager_einsum_saves(statements[1 + reads :], einsum):
            # The shape reads go into the branch that needs them (eagerly ~2 µs
            # each): later steps read them again. Not `reshaped`: the next step
            # may not find `product_name` (the other branch).
            self.block.adopt([graph.block], free={s.target for s in statements[1 : 1 + reads]})
            self.block.stems.update(graph.block.stems)
            self.block.add(ir.EagerChoice((ir.Assign(name, einsum),), tuple(statements)))
            return name
        self.absorb(graph)
        if name != product_name:
            self.reshaped[name] = (product_name, (op.rows, op.cols))
        return name

    def matrix_product(self, hint: str, op: ir.FusedMatMul) -> tuple[str, str, int]:
        """Emits the graph form of `fused_matmul`; returns its name, the MatMul's and how many shape reads it made."""
        whole = dict(self.shapes.lay.merged)  # a group kept whole reads as the group

        def word(run) -> str:
            return "".join(whole.get(s, s) for s in run)

        note = (
            f"a matrix product: rows {word(op.rows)}, summed {word(op.inner)},"
            f" columns {word(op.cols)} (reshapes, no copies)"
        )
        self.block.add(ir.Comment(note))
        sizes = {s: self.shapes.letter_size(s) for s in op.rows + op.inner + op.cols}
        reads = len(self.block.statements) - 1

        def product(run) -> ir.Value:
            # Every entry explicit: with a -1 a size 0 elsewhere would leave it undetermined.
            return ir.product(sizes[s] for s in run)

        inner, rows, cols = product(op.inner), product(op.rows), product(op.cols)
        a_groups = (op.inner, op.rows) if op.transpose_a else (op.rows, op.inner)
        b_groups = (op.cols, op.inner) if op.transpose_b else (op.inner, op.cols)
        a = self.as_matrix(op.a, a_groups, (inner, rows) if op.transpose_a else (rows, inner))
        if op.b == op.a and [len(g) for g in b_groups] == [len(g) for g in a_groups]:
            b = a  # one tensor, the same runs of its axes on both sides (JᵀJ): one view of it
        else:
            b = self.as_matrix(op.b, b_groups, (cols, inner) if op.transpose_b else (inner, cols))
        product_name = self.block.emit(
            f"{hint}_2d" if len(op.rows) + len(op.cols) > 2 else hint,
            ir.MatMul(a, b, op.transpose_a, op.transpose_b),
            stem=hint,
        )
        name = product_name
        if len(op.rows) != 1 or len(op.cols) != 1:
            shape = tuple(sizes[s] for s in op.rows + op.cols)
            name = self.block.emit(hint, ir.Reshape(product_name, shape), stem=hint)
        return name, product_name, reads

    def as_matrix(self, name: str, groups, shape) -> str:
        """`name` viewed as a matrix whose axes merge the letter runs `groups`."""
        if all(len(group) == 1 for group in groups):
            return name
        source, source_groups = self.reshaped.get(name, (name, None))
        if source_groups == tuple(groups):
            return source  # it already is that matrix: skip the reshape and back
        return self.block.emit(f"{self.block.stem(name)}_2d", ir.Reshape(source, shape), stem=self.block.stem(name))


def _eager_einsum_saves(graph: list, einsum: ir.Einsum) -> bool:
    """Whether one Einsum op runs fewer reshapes eagerly than the steps `graph`.

    An operand of `einsum` that `graph` does not read is a reshape the matrix
    product skipped (it reshapes the original): the Einsum op keeps it.
    """
    ops = [s.op for s in graph]
    reshapes = sum(isinstance(op, ir.Reshape) for op in ops)
    read = {op.operand for op in ops if isinstance(op, ir.Reshape)}
    read |= {name for op in ops if isinstance(op, ir.MatMul) for name in (op.a, op.b)}
    return reshapes > sum(operand not in read for operand in einsum.operands)
