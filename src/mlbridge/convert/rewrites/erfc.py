"""Erfc → 1 - Erf: Keras 3's exact gelu needs Erfc, which TF.js lacks."""

from __future__ import annotations

from typing import Any

from mlbridge.convert.rewrites.base import Rewrite, const, node_lists, ref, unary


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
                erf = unary(nodes, f"{node.name}/mlbridge_erf", "Erf", data[0], dtype)
                one = const(nodes, f"{node.name}/mlbridge_one", 1.0, dtype).name
                node.op = "Sub"
                del node.input[:]
                node.input.extend([ref(one, "output", in_function),
                                   ref(erf, "y", in_function), *controls])
                changed.append(node.name)
        return changed
