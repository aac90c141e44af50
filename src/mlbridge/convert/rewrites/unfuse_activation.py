"""Activations TF.js cannot fuse, taken out of fused conv/matmul nodes."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from mlbridge.convert.rewrites.base import (
    FUSED_OPS,
    TFJS_FUSED_ACTIVATIONS,
    Rewrite,
    binary,
    const,
    unary,
)


def _hard_swish(nodes: Any, base: str, x: str, dtype: Any) -> str:
    three = const(nodes, f"{base}/three", 3.0, dtype).name
    sixth = const(nodes, f"{base}/sixth", 1.0 / 6.0, dtype).name
    relu6 = unary(nodes, f"{base}/relu6", "Relu6",
                   binary(nodes, f"{base}/plus3", "AddV2", x, three, dtype), dtype)
    return binary(nodes, f"{base}/scale", "Mul",
                   binary(nodes, f"{base}/mul", "Mul", x, relu6, dtype), sixth, dtype)


def _swish(nodes: Any, base: str, x: str, dtype: Any) -> str:
    return binary(nodes, f"{base}/mul", "Mul", x,
                   unary(nodes, f"{base}/sigmoid", "Sigmoid", x, dtype), dtype)


def _gelu_exact(nodes: Any, base: str, x: str, dtype: Any) -> str:
    inv_sqrt2 = const(nodes, f"{base}/inv_sqrt2", 1.0 / math.sqrt(2.0), dtype).name
    one = const(nodes, f"{base}/one", 1.0, dtype).name
    half = const(nodes, f"{base}/half", 0.5, dtype).name
    erf = unary(nodes, f"{base}/erf", "Erf",
                 binary(nodes, f"{base}/scaled", "Mul", x, inv_sqrt2, dtype), dtype)
    factor = binary(nodes, f"{base}/one_plus", "AddV2", erf, one, dtype)
    return binary(nodes, f"{base}/half_x", "Mul",
                   binary(nodes, f"{base}/mul", "Mul", x, factor, dtype), half, dtype)


def _gelu_tanh(nodes: Any, base: str, x: str, dtype: Any) -> str:
    c = const(nodes, f"{base}/c", math.sqrt(2.0 / math.pi), dtype).name
    k = const(nodes, f"{base}/k", 0.044715, dtype).name
    one = const(nodes, f"{base}/one", 1.0, dtype).name
    half = const(nodes, f"{base}/half", 0.5, dtype).name
    cube = binary(nodes, f"{base}/cube", "Mul", x,
                   binary(nodes, f"{base}/square", "Mul", x, x, dtype), dtype)
    inner = binary(nodes, f"{base}/inner", "AddV2", x,
                    binary(nodes, f"{base}/k_cube", "Mul", cube, k, dtype), dtype)
    tanh = unary(nodes, f"{base}/tanh", "Tanh",
                  binary(nodes, f"{base}/c_inner", "Mul", inner, c, dtype), dtype)
    factor = binary(nodes, f"{base}/one_plus", "AddV2", tanh, one, dtype)
    return binary(nodes, f"{base}/half_x", "Mul",
                   binary(nodes, f"{base}/mul", "Mul", x, factor, dtype), half, dtype)


class UnfuseActivation(Rewrite):
    """Take activations TF.js cannot fuse out of fused conv/matmul nodes, as separate ops.

    Grappler's remapper fuses `Conv2D/MatMul + BiasAdd + activation` into one
    `_FusedConv2D`/`_FusedMatMul`. With oneDNN on (TensorFlow's default on x86 Linux
    when nothing sets TF_ENABLE_ONEDNN_OPTS=0, e.g. in a notebook that imported
    TensorFlow first) it also fuses hard-swish (MobileNetV3), swish, gelu, tanh and a
    residual Add. TF.js fuses only relu, relu6, elu, leaky relu, sigmoid and prelu and
    fails at run time: "Activation _fusedhardswish has not been implemented for the CPU
    backend". The fused node keeps Conv/MatMul + BiasAdd; the rest follows as plain ops.
    """

    name = "unfuse-activation"
    stage = "optimized"
    what = "moved activations TF.js cannot fuse (hard-swish, swish, gelu, tanh, add) " \
           "out of fused conv/matmul nodes into separate ops"
    #: fused_ops entry → builder of the same function from plain ops.
    BUILDERS: ClassVar[dict] = {"_FusedHardSwish": _hard_swish, "_MklSwish": _swish,
                                "_FusedSwish": _swish, "GeluExact": _gelu_exact,
                                "GeluApproximate": _gelu_tanh}
    UNARY: ClassVar[frozenset] = frozenset({"Relu", "Relu6", "Elu", "Sigmoid", "Tanh"})

    @staticmethod
    def fused_ops(node: Any) -> list[str]:
        return [s.decode() for s in node.attr["fused_ops"].list.s]

    def needs(self, node: Any) -> bool:
        if node.op not in FUSED_OPS:
            return False
        ops = self.fused_ops(node)
        return len(ops) > 1 and ops[0] == "BiasAdd" and (
            len(ops) > 2 or ops[1] not in TFJS_FUSED_ACTIVATIONS)

    def can(self, node: Any) -> bool:
        known = self.UNARY | set(self.BUILDERS) | {"Add", "AddV2", "LeakyRelu"}
        return all(op in known for op in self.fused_ops(node)[1:])

    def applies(self, graph_def: Any) -> bool:
        return any(self.needs(n) and self.can(n) for n in graph_def.node)

    def apply(self, graph_def: Any) -> list[str]:
        changed = []
        nodes = graph_def.node
        for node in [n for n in nodes if self.needs(n) and self.can(n)]:
            name, dtype = node.name, node.attr["T"].type
            ops = self.fused_ops(node)
            data = [i for i in node.input if not i.startswith("^")]
            controls = [i for i in node.input if i.startswith("^")]
            extra = iter(data[3:])  # arguments after x, filter and bias, in fused_ops order
            core = nodes.add()
            core.CopyFrom(node)
            core.name = f"{name}/mlbridge_core"
            core.attr["fused_ops"].list.s[:] = [b"BiasAdd"]
            core.attr["num_args"].i = 1
            del core.input[:]
            core.input.extend([*data[:3], *controls])
            x = core.name
            for k, op in enumerate(ops[1:]):
                base = f"{name}/mlbridge_{k}_{op.strip('_').lower()}"
                if op in self.UNARY:
                    x = unary(nodes, base, op, x, dtype)
                elif op == "LeakyRelu":
                    x = unary(nodes, base, op, x, dtype)
                    nodes[-1].attr["alpha"].f = node.attr["leakyrelu_alpha"].f or 0.2
                elif op in ("Add", "AddV2"):
                    x = binary(nodes, base, "AddV2", x, next(extra), dtype)
                else:
                    x = self.BUILDERS[op](nodes, base, x, dtype)
            # The last op takes the fused node's name, so every consumer reads the same value.
            last = next(n for n in nodes if n.name == x)
            nodes.remove(node)
            last.name = name
            changed.append(name)
        return changed
