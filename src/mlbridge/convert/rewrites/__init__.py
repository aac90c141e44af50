"""Exact graph rewrites for what TF.js 4.22 lacks: an op, a backend kernel, a loop it runs.

Each rewrite is one small class: `applies(graph_def)` says whether the graph needs it,
`apply(graph_def)` changes the GraphDef in place and returns the names of the nodes it
changed (recorded in metadata.json). They work on TensorFlow GraphDefs, not on Keras
objects, so a SavedModel someone else exported gets the same fixes as a `.keras` file.
There are two stages, named by `stage`:

- "frozen": the frozen graph before the converter checks ops and runs grappler;
- "optimized": the converter's final graph, after grappler's and its own fusions.

Every rewrite keeps the mathematical function unchanged; `verify_converted` then
measures the float difference against the untouched SavedModel. One module per rewrite;
`base.py` holds the base class and the node builders they share.
"""

from __future__ import annotations

from typing import Any

from mlbridge.convert.rewrites.base import (
    FUSED_OPS,
    TFJS_FUSED_ACTIVATIONS,
    Rewrite,
    node_lists,
)
from mlbridge.convert.rewrites.bias_rank import RankOneBias
from mlbridge.convert.rewrites.einsum import EinsumAsMatMul
from mlbridge.convert.rewrites.erfc import ErfcAsOneMinusErf
from mlbridge.convert.rewrites.grouped_conv import GroupedConvAsDepthwise
from mlbridge.convert.rewrites.inline_calls import InlineCompiledCalls
from mlbridge.convert.rewrites.loop_switch import LoopSwitchControlEdges
from mlbridge.convert.rewrites.unfuse_activation import UnfuseActivation

__all__ = ["REWRITES", "Rewrite", "node_lists", "run_stage", "unfusable"]

#: Applied in this order within each stage; each is listed in metadata when it applied.
#: RankOneBias comes after UnfuseActivation, whose fused core keeps the node's bias.
REWRITES: tuple[Rewrite, ...] = (InlineCompiledCalls(), GroupedConvAsDepthwise(),
                                 ErfcAsOneMinusErf(), EinsumAsMatMul(),
                                 LoopSwitchControlEdges(), UnfuseActivation(), RankOneBias())


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
