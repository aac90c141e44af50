"""Exact graph rewrites for what TF.js 4.22 lacks: an op, a backend kernel, a loop it runs.

Each rewrite is one small class: `applies(graph_def)` says whether the graph needs it,
`apply(graph_def)` changes the GraphDef in place and returns the names of the nodes it
changed (recorded in metadata.json). They work on TensorFlow GraphDefs, not on Keras
objects, so a SavedModel someone else exported gets the same fixes as a `.keras` file.
There are two stages, named by `stage`:

- "frozen": the frozen graph before the converter checks ops and runs grappler;
- "optimized": the converter's final graph, after grappler's and its own fusions.

Every rewrite keeps the mathematical function unchanged; `verify_converted` then
measures the float difference against the untouched SavedModel.
"""

from __future__ import annotations

import math
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


def _ref(name: str, output_arg: str, in_function: bool) -> str:
    """How a node's first output is named as an input: `n` in a graph, `n:arg:0` in a function."""
    return f"{name}:{output_arg}:0" if in_function else name


def _const(nodes: Any, name: str, value: float, dtype: Any) -> Any:
    """Append a scalar Const node of `dtype` (a DataType enum)."""
    import tensorflow as tf

    node = nodes.add(name=name, op="Const")
    node.attr["dtype"].type = dtype
    node.attr["value"].tensor.CopyFrom(
        tf.make_tensor_proto(value, dtype=tf.dtypes.as_dtype(dtype), shape=[]))
    return node


def _unary(nodes: Any, name: str, op: str, x: str, dtype: Any) -> str:
    node = nodes.add(name=name, op=op, input=[x])
    node.attr["T"].type = dtype
    return name


def _binary(nodes: Any, name: str, op: str, x: str, y: str, dtype: Any) -> str:
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


class ErfcAsOneMinusErf(Rewrite):
    """erfc(x) → 1 - erf(x): TF.js has Erf but no Erfc op.

    Keras 3's exact gelu (`activation="gelu"`, ConvNeXt, most transformers) is
    `0.5·x·erfc(-x/√2)` in TensorFlow, so the stock converter stops with "Unsupported
    Ops in the model before optimization: Erfc". The node keeps its name and becomes a
    Sub, so its consumers are untouched.
    """

    name = "erfc-as-one-minus-erf"
    stage = "frozen"
    what = "replaced Erfc(x) by 1 - Erf(x) (TF.js has no Erfc op)"

    def applies(self, graph_def: Any) -> bool:
        return any(n.op == "Erfc" for nodes, _ in node_lists(graph_def) for n in nodes)

    def apply(self, graph_def: Any) -> list[str]:
        changed = []
        for nodes, in_function in node_lists(graph_def):
            for node in [n for n in nodes if n.op == "Erfc"]:
                dtype = node.attr["T"].type
                data = [i for i in node.input if not i.startswith("^")]
                controls = [i for i in node.input if i.startswith("^")]
                erf = _unary(nodes, f"{node.name}/mlbridge_erf", "Erf", data[0], dtype)
                one = _const(nodes, f"{node.name}/mlbridge_one", 1.0, dtype).name
                node.op = "Sub"
                del node.input[:]
                node.input.extend([_ref(one, "output", in_function),
                                   _ref(erf, "y", in_function), *controls])
                changed.append(node.name)
        return changed


class LoopSwitchControlEdges(Rewrite):
    """Point control edges that leave a loop's Switch at its live (loop-body) output.

    TensorFlow inlines the body of a `While` loop (every Keras RNN: LSTM, GRU,
    SimpleRNN) with control edges `^switch` into the body. TensorFlow treats a control
    edge from a Switch as alive whenever the Switch ran; TF.js reads it as the Switch's
    output 0, which is the *exit* branch and is empty while the loop runs. The body then
    never starts and `executeAsync` fails with "Cannot compute the outputs [Identity]
    from the provided inputs". Each such edge now goes through an Identity of output 1
    (the body branch), which is what TensorFlow's own lowering uses as the body's pivot.
    """

    name = "loop-switch-control-edges"
    stage = "optimized"
    what = "re-pointed control edges from while-loop Switch nodes at their body output"

    @staticmethod
    def _loop_switches(graph_def: Any) -> dict[str, Any]:
        conds = {n.name for n in graph_def.node if n.op == "LoopCond"}
        return {n.name: n for n in graph_def.node if n.op == "Switch" and len(n.input) > 1
                and n.input[1].split(":")[0].lstrip("^") in conds}

    def applies(self, graph_def: Any) -> bool:
        switches = self._loop_switches(graph_def)
        return any(i.startswith("^") and i[1:] in switches
                   for n in graph_def.node for i in n.input)

    def apply(self, graph_def: Any) -> list[str]:
        switches = self._loop_switches(graph_def)
        live: dict[str, str] = {}
        for node in list(graph_def.node):
            inputs = list(node.input)
            if not any(i.startswith("^") and i[1:] in switches for i in inputs):
                continue
            for k, name in enumerate(inputs):
                switch = name[1:]
                if not (name.startswith("^") and switch in switches):
                    continue
                if switch not in live:
                    live[switch] = _unary(graph_def.node, f"{switch}/mlbridge_body_live",
                                          "Identity", f"{switch}:1",
                                          switches[switch].attr["T"].type)
                inputs[k] = "^" + live[switch]
            del node.input[:]
            node.input.extend(inputs)
        return sorted(live)


def _hard_swish(nodes: Any, base: str, x: str, dtype: Any) -> str:
    three = _const(nodes, f"{base}/three", 3.0, dtype).name
    sixth = _const(nodes, f"{base}/sixth", 1.0 / 6.0, dtype).name
    relu6 = _unary(nodes, f"{base}/relu6", "Relu6",
                   _binary(nodes, f"{base}/plus3", "AddV2", x, three, dtype), dtype)
    return _binary(nodes, f"{base}/scale", "Mul",
                   _binary(nodes, f"{base}/mul", "Mul", x, relu6, dtype), sixth, dtype)


def _swish(nodes: Any, base: str, x: str, dtype: Any) -> str:
    return _binary(nodes, f"{base}/mul", "Mul", x,
                   _unary(nodes, f"{base}/sigmoid", "Sigmoid", x, dtype), dtype)


def _gelu_exact(nodes: Any, base: str, x: str, dtype: Any) -> str:
    inv_sqrt2 = _const(nodes, f"{base}/inv_sqrt2", 1.0 / math.sqrt(2.0), dtype).name
    one = _const(nodes, f"{base}/one", 1.0, dtype).name
    half = _const(nodes, f"{base}/half", 0.5, dtype).name
    erf = _unary(nodes, f"{base}/erf", "Erf",
                 _binary(nodes, f"{base}/scaled", "Mul", x, inv_sqrt2, dtype), dtype)
    factor = _binary(nodes, f"{base}/one_plus", "AddV2", erf, one, dtype)
    return _binary(nodes, f"{base}/half_x", "Mul",
                   _binary(nodes, f"{base}/mul", "Mul", x, factor, dtype), half, dtype)


def _gelu_tanh(nodes: Any, base: str, x: str, dtype: Any) -> str:
    c = _const(nodes, f"{base}/c", math.sqrt(2.0 / math.pi), dtype).name
    k = _const(nodes, f"{base}/k", 0.044715, dtype).name
    one = _const(nodes, f"{base}/one", 1.0, dtype).name
    half = _const(nodes, f"{base}/half", 0.5, dtype).name
    cube = _binary(nodes, f"{base}/cube", "Mul", x,
                   _binary(nodes, f"{base}/square", "Mul", x, x, dtype), dtype)
    inner = _binary(nodes, f"{base}/inner", "AddV2", x,
                    _binary(nodes, f"{base}/k_cube", "Mul", cube, k, dtype), dtype)
    tanh = _unary(nodes, f"{base}/tanh", "Tanh",
                  _binary(nodes, f"{base}/c_inner", "Mul", inner, c, dtype), dtype)
    factor = _binary(nodes, f"{base}/one_plus", "AddV2", tanh, one, dtype)
    return _binary(nodes, f"{base}/half_x", "Mul",
                   _binary(nodes, f"{base}/mul", "Mul", x, factor, dtype), half, dtype)


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
                    x = _unary(nodes, base, op, x, dtype)
                elif op == "LeakyRelu":
                    x = _unary(nodes, base, op, x, dtype)
                    nodes[-1].attr["alpha"].f = node.attr["leakyrelu_alpha"].f or 0.2
                elif op in ("Add", "AddV2"):
                    x = _binary(nodes, base, "AddV2", x, next(extra), dtype)
                else:
                    x = self.BUILDERS[op](nodes, base, x, dtype)
            # The last op takes the fused node's name, so every consumer reads the same value.
            last = next(n for n in nodes if n.name == x)
            nodes.remove(node)
            last.name = name
            changed.append(name)
        return changed


class InlineCompiledCalls(Rewrite):
    """Inline calls to functions TensorFlow keeps as calls (`_XlaMustCompile`, `_noinline`).

    Keras 3 runs grouped convolutions (ConvNeXt's depthwise 7x7, any `Conv2D(groups=g)`)
    in a `tf.function(jit_compile=True)`; freezing leaves them as StatefulPartitionedCall
    nodes, which TF.js cannot run. Their bodies are plain ops: copied in place of the call.
    """

    name = "inline-compiled-calls"
    stage = "frozen"
    what = "inlined function calls TensorFlow left un-inlined (XLA-compiled tf.functions)"
    CALLS: ClassVar[frozenset] = frozenset({"StatefulPartitionedCall", "PartitionedCall"})

    def _calls(self, graph_def: Any) -> list[Any]:
        functions = {f.signature.name for f in graph_def.library.function}
        return [n for n in graph_def.node
                if n.op in self.CALLS and n.attr["f"].func.name in functions]

    def applies(self, graph_def: Any) -> bool:
        return bool(self._calls(graph_def))

    def apply(self, graph_def: Any) -> list[str]:
        from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def

        functions = {f.signature.name: f for f in graph_def.library.function}
        changed = []
        for call in self._calls(graph_def):
            fdef = functions[call.attr["f"].func.name]
            body, flat = function_def_to_graph_def(fdef)
            prefix = f"{call.name}/mlbridge_inlined"
            args = {arg.name: k for k, arg in enumerate(fdef.signature.input_arg)}
            data = [i for i in call.input if not i.startswith("^")]

            def rename(ref: str, prefix: str = prefix) -> str:
                control = "^" if ref.startswith("^") else ""
                return f"{control}{prefix}/{ref.lstrip('^')}"

            for node in body.node:
                copy = graph_def.node.add()
                copy.CopyFrom(node)
                copy.name = f"{prefix}/{node.name}"
                if node.op == "Placeholder" and node.name in args:
                    copy.op, copy.input[:] = "Identity", [data[args[node.name]]]
                    copy.attr["T"].type = node.attr["dtype"].type
                    for key in ("dtype", "shape", "_user_specified_name"):
                        copy.attr.pop(key, None)
                else:
                    copy.input[:] = [rename(i) for i in node.input]
            outputs = [rename(flat[fdef.ret[arg.name]]) for arg in fdef.signature.output_arg]
            controls = [i for i in call.input if i.startswith("^")]
            types = list(call.attr["Tout"].list.type)
            call.op = "IdentityN"
            call.input[:] = [*outputs, *controls]
            for key in list(call.attr):
                del call.attr[key]
            call.attr["T"].list.type.extend(types)
            changed.append(call.name)
        return changed


class GroupedConvAsDepthwise(Rewrite):
    """A Conv2D with one input channel per group is a DepthwiseConv2dNative: use that.

    TensorFlow's Conv2D takes grouped filters ([h, w, C/groups, out]); TF.js's conv2d
    requires the filter's input depth to equal the input's ("depth of input must match
    input depth for filter"). With groups = C the same numbers as a depthwise filter
    [h, w, C, out/C] compute the same outputs, in the same channel order.
    """

    name = "grouped-conv-as-depthwise"
    stage = "frozen"
    what = "turned Conv2D with groups = input channels into DepthwiseConv2dNative"

    @staticmethod
    def _grouped(graph_def: Any) -> list[tuple[Any, int, list[int]]]:
        import tensorflow as tf

        convs = [n for n in graph_def.node if n.op == "Conv2D"
                 and n.attr["data_format"].s in (b"", b"NHWC")]
        if not convs:
            return []
        with tf.Graph().as_default() as graph:
            tf.graph_util.import_graph_def(graph_def, name="")
        found = []
        for node in convs:
            op = graph.get_operation_by_name(node.name)
            channels, kernel = op.inputs[0].shape[-1], op.inputs[1].shape.as_list()
            if channels and None not in kernel and kernel[2] == 1 < channels \
                    and kernel[3] % channels == 0:
                found.append((node, channels, kernel))
        return found

    def applies(self, graph_def: Any) -> bool:
        return bool(self._grouped(graph_def))

    def apply(self, graph_def: Any) -> list[str]:
        import tensorflow as tf

        changed = []
        for node, channels, (h, w, _, out) in self._grouped(graph_def):
            shape = graph_def.node.add(name=f"{node.name}/mlbridge_depthwise_shape", op="Const")
            shape.attr["dtype"].type = tf.int32.as_datatype_enum
            shape.attr["value"].tensor.CopyFrom(
                tf.make_tensor_proto([h, w, channels, out // channels], dtype=tf.int32))
            reshape = graph_def.node.add(name=f"{node.name}/mlbridge_depthwise_filter",
                                         op="Reshape", input=[node.input[1], shape.name])
            reshape.attr["T"].type = node.attr["T"].type
            reshape.attr["Tshape"].type = tf.int32.as_datatype_enum
            node.op = "DepthwiseConv2dNative"
            node.input[1] = reshape.name
            for key in ("use_cudnn_on_gpu", "groups"):
                node.attr.pop(key, None)
            changed.append(node.name)
        return changed


#: Applied in this order within each stage; each is listed in metadata when it applied.
REWRITES: tuple[Rewrite, ...] = (InlineCompiledCalls(), GroupedConvAsDepthwise(),
                                 ErfcAsOneMinusErf(), LoopSwitchControlEdges(),
                                 UnfuseActivation())


def run_stage(stage: str, graph_def: Any) -> list[tuple[Rewrite, list[str]]]:
    """Apply every rewrite of `stage` that applies; return (rewrite, changed nodes) pairs."""
    applied = []
    for rewrite in REWRITES:
        if rewrite.stage == stage and rewrite.applies(graph_def):
            applied.append((rewrite, rewrite.apply(graph_def)))
    return applied


def unfusable(graph_def: Any) -> dict[str, str]:
    """Fused nodes TF.js cannot run even after the rewrites: {node name: 'op+activation'}."""
    out = {}
    for node in graph_def.node:
        if node.op in FUSED_OPS:
            ops = UnfuseActivation.fused_ops(node)
            bad = [op for op in ops[1:] if op not in TFJS_FUSED_ACTIVATIONS]
            if len(ops) > 2 or bad or (ops and ops[0] not in ("BiasAdd", "Prelu")):
                out[node.name] = f"{node.op}+{'+'.join(ops)}"
    return out
