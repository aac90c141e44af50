"""Control edges out of a while loop's Switch, pointed where TF.js looks for them."""

from __future__ import annotations

from typing import Any

from mlbridge.convert.rewrites.base import Rewrite, unary


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
                    live[switch] = unary(graph_def.node, f"{switch}/mlbridge_body_live",
                                          "Identity", f"{switch}:1",
                                          switches[switch].attr["T"].type)
                inputs[k] = "^" + live[switch]
            del node.input[:]
            node.input.extend(inputs)
        return sorted(live)
