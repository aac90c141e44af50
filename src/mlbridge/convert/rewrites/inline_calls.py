"""Function calls TensorFlow left in the frozen graph (XLA-compiled), inlined."""

from __future__ import annotations

from typing import Any, ClassVar

from mlbridge.convert.rewrites.base import Rewrite


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
