"""Two-operand Einsum as Transpose / Reshape / BatchMatMulV2: TF.js's wasm backend has no Einsum."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any

from mlbridge.convert.rewrites.base import Rewrite, node_lists, ref

#: An operand's dimensions, by label: a known size, or None (read at run time).
Sizes = dict[str, int | None]


@dataclass(frozen=True)
class EinsumPlan:
    """How one equation becomes a batched matmul (operands possibly swapped).

    Each operand is transposed by its `perm` (identity: no node) to [batch, free,
    contracted] or, with `adj`, [batch, contracted, free], and reshaped when its free or
    contracted labels are not exactly one dimension; the product [batch, free_l, free_r]
    is reshaped back to one dimension per label and transposed by `out_perm`.
    """

    swap: bool
    batch: tuple[str, ...]
    free_l: tuple[str, ...]
    free_r: tuple[str, ...]
    contracted: tuple[str, ...]
    lhs_perm: tuple[int, ...]
    rhs_perm: tuple[int, ...]
    adj_x: bool
    adj_y: bool
    out_perm: tuple[int, ...]

    @property
    def lhs_groups(self) -> list[tuple[str, ...]]:
        inner = [self.contracted, self.free_l] if self.adj_x else [self.free_l, self.contracted]
        return [(c,) for c in self.batch] + inner

    @property
    def rhs_groups(self) -> list[tuple[str, ...]]:
        inner = [self.free_r, self.contracted] if self.adj_y else [self.contracted, self.free_r]
        return [(c,) for c in self.batch] + inner

    @property
    def product_labels(self) -> tuple[str, ...]:
        return self.batch + self.free_l + self.free_r


def plan_equation(equation: str) -> EinsumPlan | None:
    """The cheapest matmul form of a two-operand equation, or None when there is none.

    None for one or three operands, an ellipsis, an implicit output (no "->"), a label
    repeated within an operand or the output (a diagonal), an output label in neither
    operand, and a label summed away from one operand only: those stay Einsum.
    """
    if equation.count("->") != 1:
        return None
    operands, out = equation.split("->")
    if operands.count(",") != 1:
        return None
    a, b = operands.split(",")
    for labels in (a, b, out):
        if (labels and not labels.isalpha()) or len(set(labels)) != len(labels):
            return None
    if not set(out) <= set(a) | set(b) or (set(a) ^ set(b)) - set(out):
        return None
    best: tuple[tuple[int, ...], EinsumPlan] | None = None
    for swap, by_rhs, adj_x, adj_y in product((False, True), repeat=4):
        la, lb = (b, a) if swap else (a, b)
        batch = tuple(c for c in out if c in la and c in lb)
        free_l = tuple(c for c in out if c in la and c not in lb)
        free_r = tuple(c for c in out if c in lb and c not in la)
        contracted = tuple(c for c in (lb if by_rhs else la) if c not in out and c in la)
        lhs = batch + (contracted + free_l if adj_x else free_l + contracted)
        rhs = batch + (free_r + contracted if adj_y else contracted + free_r)
        labels = batch + free_l + free_r
        plan = EinsumPlan(swap, batch, free_l, free_r, contracted,
                          tuple(la.index(c) for c in lhs), tuple(lb.index(c) for c in rhs),
                          adj_x, adj_y, tuple(labels.index(c) for c in out))
        perms = [list(p) for p in (plan.lhs_perm, plan.rhs_perm, plan.out_perm)]
        # Fewest transposes; then fewest that move the innermost axis (a strided copy
        # rather than one of contiguous rows), then the plainest form.
        cost = (sum(p != sorted(p) for p in perms),
                sum(bool(p) and p[-1] != len(p) - 1 for p in perms), adj_x + adj_y, swap, by_rhs)
        if best is None or cost < best[0]:
            best = (cost, plan)
    return best[1] if best else None


class EinsumAsMatMul(Rewrite):
    """Every two-operand Einsum as Transpose / Reshape / BatchMatMulV2, which wasm runs.

    TF.js's cpu and webgl backends have an Einsum kernel, wasm has none: "Kernel
    'Einsum' not registered for backend 'wasm'", so no Keras MultiHeadAttention
    (`BTNH,BSNH->BNTS` and `BNTS,BSNH->BTNH`; tf.keras 2 wrote `aecd,abcd->acbe` and
    `acbe,aecd->abcd`) runs there. Keras 3's EinsumDense reaches the frozen graph as
    BatchMatMulV2 already, but other SavedModels keep `abc,cde->abde` and the like.

    Each label is a batch label (both operands and the output), contracted (both
    operands only) or free (one operand and the output); the product is a batched matmul
    after a transpose and a reshape of each operand, followed by a reshape and a
    transpose: what TensorFlow's own Einsum kernel does. Of the equivalent forms
    (operands swapped, adj_x / adj_y) the one with the fewest transposes is used; a
    transpose or reshape that would change nothing is left out. Sizes the graph knows
    are constants, one unknown size per shape is -1, and any further one is read at run
    time (Shape, StridedSlice, Prod, Pack). The last node keeps the Einsum's name.

    Stage "frozen": the Einsum is in the frozen graph and grappler keeps it (it is still
    there in the optimized graph), so either stage would see it; before grappler,
    TensorFlow's shape inference on the frozen graph gives the sizes, grappler optimizes
    the new nodes like any others (constant-folds the shape arithmetic that turns out
    known) and the converter's fusions see a plain BatchMatMulV2.
    """

    name = "einsum-as-matmul"
    stage = "frozen"
    what = "replaced two-operand Einsum by Transpose / Reshape / BatchMatMulV2 " \
           "(TF.js's wasm backend has no Einsum kernel)"

    @staticmethod
    def _einsums(nodes: Any) -> list[tuple[Any, EinsumPlan]]:
        found = []
        for node in nodes:
            data = [i for i in node.input if not i.startswith("^")]
            if node.op == "Einsum" and len(data) == 2:
                plan = plan_equation(node.attr["equation"].s.decode())
                if plan is not None:
                    found.append((node, plan))
        return found

    def applies(self, graph_def: Any) -> bool:
        return any(self._einsums(nodes) for nodes, _ in node_lists(graph_def))

    def apply(self, graph_def: Any) -> list[str]:
        changed = []
        for nodes, in_function in node_lists(graph_def):
            found = self._einsums(nodes)
            shapes = {} if in_function or not found else self._static_shapes(graph_def, found)
            for node, plan in found:
                changed.append(node.name)
                self._replace(nodes, in_function, node, plan, shapes)
        return changed

    @staticmethod
    def _static_shapes(graph_def: Any, found: list) -> dict[str, list[int | None]]:
        """{einsum name: [shape of operand 0, of operand 1]} from TensorFlow's shape inference."""
        import tensorflow as tf

        try:
            with tf.Graph().as_default() as graph:
                tf.graph_util.import_graph_def(graph_def, name="")
        except (ValueError, TypeError, tf.errors.OpError):
            return {}
        shapes = {}
        for node, _ in found:
            op = graph.get_operation_by_name(node.name)
            shapes[node.name] = [t.shape.as_list() if t.shape.rank is not None else None
                                 for t in op.inputs]
        return shapes

    @staticmethod
    def _replace(nodes: Any, in_function: bool, node: Any, plan: EinsumPlan,
                 shapes: dict) -> None:
        name, dtype = node.name, node.attr["T"].type
        data = [i for i in node.input if not i.startswith("^")]
        controls = [i for i in node.input if i.startswith("^")]
        labels = node.attr["equation"].s.decode().split("->")[0].split(",")
        static = shapes.get(name) or [None, None]
        if plan.swap:
            data, labels, static = data[::-1], labels[::-1], static[::-1]
        # Each label's size (None: unknown here) and where to read it at run time.
        sizes: Sizes = {}
        where: dict[str, tuple[str, int]] = {}
        for x, operand, known in zip(data, labels, static, strict=True):
            for axis, label in enumerate(operand):
                where.setdefault(label, (x, axis))
                if sizes.get(label) is None:
                    sizes[label] = known[axis] if known else None
        nodes.remove(node)
        graph = _Graph(nodes, in_function, name, dtype, sizes, where)
        lhs = graph.transpose(data[0], plan.lhs_perm, "lhs")
        rhs = graph.transpose(data[1], plan.rhs_perm, "rhs")
        if len(plan.free_l) != 1 or len(plan.contracted) != 1:
            lhs = graph.reshape(lhs, plan.lhs_groups, "lhs")
        if len(plan.free_r) != 1 or len(plan.contracted) != 1:
            rhs = graph.reshape(rhs, plan.rhs_groups, "rhs")
        steps = ["matmul"]
        if len(plan.free_l) != 1 or len(plan.free_r) != 1:
            steps.append("reshape")
        if list(plan.out_perm) != sorted(plan.out_perm):
            steps.append("transpose")
        # In a function body, readers name the Einsum's output "name:output:0", which a
        # Transpose (output "y") cannot keep: an Identity after it takes the name there.
        identity = in_function and steps[-1] == "transpose"
        x = lhs
        for k, step in enumerate(steps):
            final = name if k == len(steps) - 1 and not identity else None
            if step == "matmul":
                x = graph.matmul(x, rhs, plan.adj_x, plan.adj_y, final)
            elif step == "reshape":
                x = graph.reshape(x, [(c,) for c in plan.product_labels], "out", final)
            else:
                x = graph.transpose(x, plan.out_perm, "out", final)
        if identity:
            nodes.add(name=name, op="Identity", input=[x]).attr["T"].type = dtype
        nodes[-1].input.extend(controls)


class _Graph:
    """Adds the nodes that replace one Einsum; returns refs valid where they are added.

    New nodes are named "<einsum>/mlbridge_<part>", except the one given `final`: the
    Einsum's own name, so its readers are unchanged.
    """

    def __init__(self, nodes: Any, in_function: bool, name: str, dtype: int, sizes: Sizes,
                 where: dict[str, tuple[str, int]]) -> None:
        import tensorflow as tf

        self.nodes, self.in_function, self.name, self.dtype = nodes, in_function, name, dtype
        self.sizes, self.where = sizes, where
        self.int32 = tf.int32.as_datatype_enum
        self.cache: dict[Any, str] = {}

    def _add(self, part: str, op: str, inputs: list[str], final: str | None = None,
             output_arg: str = "output", **types: int) -> tuple[Any, str]:
        name = final or f"{self.name}/mlbridge_{part}"
        node = self.nodes.add(name=name, op=op, input=inputs)
        for key, value in types.items():
            node.attr[key].type = value
        return node, ref(name, output_arg, self.in_function)

    def ints(self, values: list[int] | int) -> str:
        """An int32 Const (scalar or vector), one per value within this Einsum."""
        import tensorflow as tf

        key = tuple(values) if isinstance(values, list) else values
        if ("ints", key) not in self.cache:
            node, self.cache["ints", key] = self._add(f"const_{len(self.cache)}", "Const", [])
            node.attr["dtype"].type = self.int32
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(values, dtype=tf.int32))
        return self.cache["ints", key]

    def transpose(self, x: str, perm: tuple[int, ...], part: str,
                  final: str | None = None) -> str:
        if list(perm) == sorted(perm):
            return x
        return self._add(f"{part}_transpose", "Transpose", [x, self.ints(list(perm))], final,
                         "y", T=self.dtype, Tperm=self.int32)[1]

    def reshape(self, x: str, groups: list[tuple[str, ...]], part: str,
                final: str | None = None) -> str:
        return self._add(f"{part}_reshape", "Reshape", [x, self.shape(groups, part)], final,
                         T=self.dtype, Tshape=self.int32)[1]

    def matmul(self, x: str, y: str, adj_x: bool, adj_y: bool, final: str | None) -> str:
        node, out = self._add("matmul", "BatchMatMulV2", [x, y], final, T=self.dtype)
        node.attr["adj_x"].b, node.attr["adj_y"].b = adj_x, adj_y
        return out

    def dim(self, label: str) -> str:
        """The size of `label` at run time, a scalar int32 read from an operand's Shape."""
        x, axis = self.where[label]
        if ("shape", x) not in self.cache:
            self.cache["shape", x] = self._add(f"shape_{len(self.cache)}", "Shape", [x],
                                               T=self.dtype, out_type=self.int32)[1]
        if ("dim", x, axis) not in self.cache:
            node, self.cache["dim", x, axis] = self._add(
                f"dim_{len(self.cache)}", "StridedSlice",
                [self.cache["shape", x], self.ints([axis]), self.ints([axis + 1]),
                 self.ints([1])], T=self.int32, Index=self.int32)
            for mask in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask"):
                node.attr[mask].i = 0
            node.attr["shrink_axis_mask"].i = 1
        return self.cache["dim", x, axis]

    def pack(self, part: str, scalars: list[str]) -> str:
        node, out = self._add(part, "Pack", scalars, T=self.int32)
        node.attr["N"].i, node.attr["axis"].i = len(scalars), 0
        return out

    def shape(self, groups: list[tuple[str, ...]], part: str) -> str:
        """An int32 shape, one dimension per group: the product of its labels' sizes.

        A Const when every size is known; else the group with the most unknown sizes
        is -1 and any other unknown size is read at run time (Pack, and Prod of a group).
        """
        unknown = [sum(self.sizes[c] is None for c in group) for group in groups]
        inferred = unknown.index(max(unknown)) if any(unknown) else None
        parts: list[int | str] = []
        for k, group in enumerate(groups):
            known = 1
            for c in group:
                known *= self.sizes[c] if self.sizes[c] is not None else 1
            if k == inferred or not unknown[k]:
                parts.append(-1 if k == inferred else known)
                continue
            scalars = [self.dim(c) for c in group if self.sizes[c] is None]
            scalars += [self.ints(known)] if known != 1 else []
            if len(scalars) > 1:
                factors = self.pack(f"{part}_factors_{k}", scalars)
                node, size = self._add(f"{part}_size_{k}", "Prod", [factors, self.ints(0)],
                                       T=self.int32, Tidx=self.int32)
                node.attr["keep_dims"].b = False
                scalars = [size]
            parts.append(scalars[0])
        if all(isinstance(p, int) for p in parts):
            return self.ints([int(p) for p in parts])
        return self.pack(f"{part}_shape", [p if isinstance(p, str) else self.ints(p)
                                           for p in parts])
