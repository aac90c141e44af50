"""Fused conv/matmul biases that are not a [channels] vector, which TF.js's wasm backend rejects."""

from __future__ import annotations

from typing import Any, ClassVar

from mlbridge.convert.rewrites.base import FUSED_OPS, Rewrite, binary, unary


class RankOneBias(Rewrite):
    """Give every fused conv/matmul node a bias of shape [channels], or unfuse its add.

    The converter's `normalize_bias_add` turns *any* `AddV2(Conv2D|DepthwiseConv2dNative|
    MatMul, y)` into a BiasAdd without looking at y's shape, and grappler then fuses it.
    Keras 3's BatchNormalization with `axis=3` (EfficientNet, any model passing
    `bn_axis = 3`) folds to `conv · scale + shift` with `shift` a [1, 1, 1, C] constant,
    so the fused node gets a rank-4 bias; a Rescaling offset gives a rank-0 one and a
    residual `Add()([conv, shortcut])` (or an LSTM cell's `x·W + h·U`) a whole activation
    tensor. TF.js's cpu backend broadcasts the bias; wasm stops with "FusedConv2D only
    supports rank-1 bias but got rank 4" (and its matmul reads a [1] bias as if it were
    [C]: wrong numbers, no error).

    A constant bias whose dimensions are all 1 but the last, no more of them than the
    output has, adds one number per output channel: it becomes that [C] vector (a copy
    when other nodes read the constant too). Any other bias (a runtime tensor, another
    shape) is taken out of the fused node: the plain conv/matmul, then AddV2, then the
    fused activation, each as its own op; the last one keeps the node's name.
    Only the main graph: a BiasAdd inside a function body is TensorFlow's own, whose
    bias TensorFlow already required to be [C].
    """

    name = "rank-one-bias"
    stage = "optimized"
    what = "gave fused conv/matmul nodes a [channels] bias, or unfused the add " \
           "(TF.js's wasm backend takes rank-1 biases only)"
    #: fused op → (plain op, rank of its output).
    PLAIN: ClassVar[dict[str, tuple[str, int]]] = {
        "_FusedConv2D": ("Conv2D", 4),
        "FusedDepthwiseConv2dNative": ("DepthwiseConv2dNative", 4),
        "_FusedMatMul": ("MatMul", 2)}
    #: Activations a fused node may still carry after unfuse-activation, as plain ops.
    ACTIVATIONS: ClassVar[frozenset] = frozenset({"Relu", "Relu6", "Elu", "Sigmoid",
                                                  "LeakyRelu", "Prelu"})

    @staticmethod
    def _fused_ops(node: Any) -> list[str]:
        return [s.decode() for s in node.attr["fused_ops"].list.s]

    @staticmethod
    def _const_shape(node: Any | None) -> list[int] | None:
        if node is None or node.op != "Const":
            return None
        shape = node.attr["value"].tensor.tensor_shape
        return None if shape.unknown_rank else [int(d.size) for d in shape.dim]

    def _channels(self, node: Any, by_name: dict[str, Any]) -> int | None:
        """Output channels of a fused node, from its filter / right matrix when constant."""
        shape = self._const_shape(by_name.get(node.input[1].split(":")[0]))
        if not shape or any(d < 0 for d in shape):
            return None
        if node.op == "_FusedConv2D" and len(shape) == 4:
            return shape[3]
        if node.op == "FusedDepthwiseConv2dNative" and len(shape) == 4:
            return shape[2] * shape[3]
        if node.op == "_FusedMatMul" and len(shape) == 2:
            return shape[0] if node.attr["transpose_b"].b else shape[1]
        return None

    def _plan(self, graph_def: Any) -> list[tuple[Any, int | None]]:
        """[(fused node, channels)]: channels when its constant bias can become [C], else None."""
        by_name = {n.name: n for n in graph_def.node}
        found = []
        for node in graph_def.node:
            if node.op not in FUSED_OPS or self._fused_ops(node)[:1] != ["BiasAdd"]:
                continue
            data = [i for i in node.input if not i.startswith("^")]
            if len(data) < 3:
                continue
            bias_ref = data[2]
            bias = by_name.get(bias_ref.split(":")[0]) \
                if ":" not in bias_ref or bias_ref.endswith(":0") else None
            shape = self._const_shape(bias)
            channels = self._channels(node, by_name)
            if shape is not None and len(shape) == 1 and (
                    shape[0] == channels or (channels is None and shape[0] > 1)):
                continue  # [C] already (or [n > 1] beside a filter of unknown shape): left as is
            rank = self.PLAIN[node.op][1]
            per_channel = (shape is not None and channels is not None and len(shape) <= rank
                           and all(d == 1 for d in shape[:-1])
                           and (not shape or shape[-1] in (1, channels)))
            if per_channel:
                found.append((node, channels))
            elif self._can_unfuse(node):
                found.append((node, None))
        return found

    def _can_unfuse(self, node: Any) -> bool:
        ops = self._fused_ops(node)
        return len(ops) <= 2 and all(op in self.ACTIVATIONS for op in ops[1:])

    def applies(self, graph_def: Any) -> bool:
        return bool(self._plan(graph_def))

    def apply(self, graph_def: Any) -> list[str]:
        plan = self._plan(graph_def)
        readers: dict[str, int] = {}
        for node in graph_def.node:
            for name in node.input:
                if not name.startswith("^"):
                    readers[name.split(":")[0]] = readers.get(name.split(":")[0], 0) + 1
        # A constant read only by biases this rewrite turns into the same [C] changes in place.
        planned: dict[str, list[int]] = {}
        for node, channels in plan:
            if channels is not None:
                planned.setdefault(self._bias(node).split(":")[0], []).append(channels)
        changed = []
        vectors: dict[tuple[str, int], str] = {}
        for node, channels in plan:
            if channels is None:
                self._unfuse(graph_def, node)
            else:
                bias_ref = self._bias(node)
                bias = bias_ref.split(":")[0]
                if (bias, channels) not in vectors:
                    alone = readers[bias] == len(planned[bias]) and len(set(planned[bias])) == 1
                    vectors[bias, channels] = self._vector(graph_def, bias, channels, alone)
                node.input[list(node.input).index(bias_ref)] = vectors[bias, channels]
            changed.append(node.name)
        return changed

    @staticmethod
    def _bias(node: Any) -> str:
        return [i for i in node.input if not i.startswith("^")][2]

    @staticmethod
    def _vector(graph_def: Any, bias: str, channels: int, in_place: bool) -> str:
        """The constant `bias` as a [channels] vector: itself, or a new Const beside it."""
        import numpy as np
        import tensorflow as tf
        from tensorflow.python.framework import tensor_util

        const = next(n for n in graph_def.node if n.name == bias)
        value = tensor_util.MakeNdarray(const.attr["value"].tensor)
        vector = np.ascontiguousarray(np.broadcast_to(value.reshape(-1), (channels,)))
        target = const
        if not in_place:
            target = graph_def.node.add()
            target.CopyFrom(const)
            target.name = f"{bias}/mlbridge_rank1_{channels}"
        dtype = tf.dtypes.as_dtype(const.attr["dtype"].type)
        target.attr["value"].tensor.CopyFrom(
            tf.make_tensor_proto(vector, dtype=dtype, shape=[channels]))
        return target.name

    def _unfuse(self, graph_def: Any, node: Any) -> None:
        """Plain conv/matmul, AddV2 of the bias, the activation; the last takes the name."""
        from tensorflow.python.framework import op_def_registry

        nodes = graph_def.node
        name, dtype = node.name, node.attr["T"].type
        op, _ = self.PLAIN[node.op]
        ops = self._fused_ops(node)
        data = [i for i in node.input if not i.startswith("^")]
        controls = [i for i in node.input if i.startswith("^")]
        core = nodes.add()
        core.CopyFrom(node)
        core.name, core.op = f"{name}/mlbridge_plain", op
        allowed = {a.name for a in op_def_registry.get(op).attr}
        for key in [k for k in core.attr if k not in allowed]:
            del core.attr[key]
        del core.input[:]
        core.input.extend([*data[:2], *controls])
        x = binary(nodes, f"{name}/mlbridge_bias", "AddV2", core.name, data[2], dtype)
        for activation in ops[1:]:
            base = f"{name}/mlbridge_{activation.lower()}"
            if activation == "Prelu":
                x = binary(nodes, base, "Prelu", x, data[3], dtype)
            else:
                x = unary(nodes, base, activation, x, dtype)
                if activation == "LeakyRelu":
                    nodes[-1].attr["alpha"].f = (node.attr["leakyrelu_alpha"].f
                                                 if "leakyrelu_alpha" in node.attr else 0.2)
        last = next(n for n in nodes if n.name == x)
        nodes.remove(node)
        last.name = name
