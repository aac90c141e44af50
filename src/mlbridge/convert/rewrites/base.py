"""What every rewrite shares: the base class, and small builders of GraphDef nodes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

#: Activations TF.js fuses into conv/matmul kernels (lower-cased by TF.js; both backends).
TFJS_FUSED_ACTIVATIONS = frozenset({"Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Prelu"})
FUSED_OPS = frozenset({"_FusedConv2D", "_FusedMatMul", "FusedDepthwiseConv2dNative"})


def node_lists(graph_def: Any) -> Iterator[tuple[Any, bool]]:
    """The graph's node list, then each library function's, with `in_function`."""
    yield graph_def.node, False
    for function in graph_def.library.function:
        yield function.node_def, True


def ref(name: str, output_arg: str, in_function: bool) -> str:
    """How a node's first output is named as an input: `n` in a graph, `n:arg:0` in a function."""
    return f"{name}:{output_arg}:0" if in_function else name


def const(nodes: Any, name: str, value: float, dtype: Any) -> Any:
    """Append a scalar Const node of `dtype` (a DataType enum)."""
    import tensorflow as tf

    node = nodes.add(name=name, op="Const")
    node.attr["dtype"].type = dtype
    node.attr["value"].tensor.CopyFrom(
        tf.make_tensor_proto(value, dtype=tf.dtypes.as_dtype(dtype), shape=[]))
    return node


def unary(nodes: Any, name: str, op: str, x: str, dtype: Any) -> str:
    node = nodes.add(name=name, op=op, input=[x])
    node.attr["T"].type = dtype
    return name


def binary(nodes: Any, name: str, op: str, x: str, y: str, dtype: Any) -> str:
    node = nodes.add(name=name, op=op, input=[x, y])
    node.attr["T"].type = dtype
    return name


class Rewrite:
    """A named, exact graph transformation; subclasses set `name`, `stage` and `what`."""

    name: ClassVar[str]
    stage: ClassVar[str]
    what: ClassVar[str]

    def applies(self, graph_def: Any) -> bool:
        raise NotImplementedError

    def apply(self, graph_def: Any) -> list[str]:
        raise NotImplementedError


