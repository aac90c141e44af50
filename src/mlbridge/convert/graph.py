"""SavedModel → TF.js graph model through the `tensorflowjs` library, with our rewrites inside.

The converter is one function (`_convert_tf_saved_model`) that freezes the graph, checks
its ops, optimizes it and writes it. The rewrites need the graph between those steps,
and the converter has no hook, so for the duration of one call two of its module
functions are wrapped (`convert_hooks`): `optimize_graph` (rewrites before and after it,
and our own op check that names layers) and `_build_signature_def` (stable input and
output names). The converter itself is pinned (tensorflowjs==4.22.0), so the wrapped
signatures cannot drift under us.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlbridge.convert import rewrites
from mlbridge.errors import ExportError, UnsupportedModel

_SHARD_BYTES = 64 * 1024 * 1024
QUANTIZATIONS = ("none", "float16", "uint8")
#: Ops an int input may pass through on its way to a lookup (Keras' take() wraps negatives).
_INDEX_PATH_OPS = frozenset({"Identity", "Cast", "Less", "AddV2", "Add", "SelectV2", "Select",
                             "Maximum", "Minimum", "ClipByValue", "Reshape", "ExpandDims",
                             "Squeeze", "Cumsum", "StridedSlice"})
_CALLS = frozenset({"StatefulPartitionedCall", "PartitionedCall"})
_SCOPE_NOISE = re.compile(r"^(StatefulPartitionedCall(_\d+)?|PartitionedCall(_\d+)?|Func)$")


@dataclass
class Conversion:
    """What happened inside the converter: rewrites applied, input ranges seen."""

    layer_names: Sequence[str] = ()
    model_name: str | None = None
    applied: list[dict] = field(default_factory=list)
    int_ranges: dict[str, int] = field(default_factory=dict)

    def where(self, node_name: str) -> str:
        """The Keras layer a node comes from, or its graph scope when no layer is known."""
        parts = [p for p in node_name.split("/")[:-1] if not _SCOPE_NOISE.match(p)]
        layers = sorted(set(self.layer_names) - {self.model_name}, key=len, reverse=True)
        for part in parts:
            # Keras 3 scopes a layer's ops as "<name>_1" (a uniquified name scope).
            for layer in layers:
                if re.fullmatch(re.escape(layer) + r"_\d+", part):
                    return layer
            if part in layers:
                return part
        return "/".join(parts) or node_name


def supported_ops() -> set[str]:
    """TF.js's op names, from the converter's own op list (what its `validate` reads)."""
    from tensorflowjs import resource_loader

    names = set()
    for filename in resource_loader.list_dir("op_list"):
        if filename.endswith(".json"):
            with resource_loader.open_file(f"op_list/{filename}") as handle:
                names |= {op["tfOpName"] for op in json.load(handle)}
    return names


def unsupported_nodes(graph_def: Any) -> dict[str, str]:
    """{node name: op} for every node TF.js has no op for, in the graph and its functions."""
    known = supported_ops()
    found = {}
    for nodes, _ in rewrites.node_lists(graph_def):
        for node in nodes:
            if node.op in _CALLS and node.attr["f"].func.name:
                # A call TensorFlow would not inline (e.g. an XLA-compiled tf.function, as
                # Keras uses for grouped convolutions): name what it calls.
                called = re.sub(r"(_\d+)+$", "", node.attr["f"].func.name)
                found[node.name] = f"{node.op} of {called}"
            elif node.op not in known:
                found[node.name] = node.op
    return found


def raise_unsupported(found: dict[str, str], conversion: Conversion) -> None:
    """One message naming every unsupported op with the layers it comes from."""
    by_op: dict[str, set[str]] = {}
    for name, op in found.items():
        by_op.setdefault(op, set()).add(conversion.where(name))
    listed = "; ".join(f"{op} (in {_few(sorted(where))})" for op, where in sorted(by_op.items()))
    raise UnsupportedModel(f"TF.js cannot run these ops, and mlbridge has no exact rewrite "
                           f"for them: {listed}",
                           hint="replace those layers with ones built from supported ops "
                           "(see tensorflowjs/op_list), or keep them out of the exported model")


def _few(names: list[str], shown: int = 4) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def int_input_ranges(graph_def: Any, input_names: Sequence[str]) -> dict[str, int]:
    """{input: n} when an int input indexes a lookup of n rows (Embedding, OneHot).

    Followed forward from the placeholder through index arithmetic only; the smallest
    table wins, so random test indices are valid for every lookup they reach.
    """
    consumers: dict[str, list[Any]] = {}
    by_name = {n.name: n for n in graph_def.node}
    for node in graph_def.node:
        for k, name in enumerate(node.input):
            if not name.startswith("^"):
                consumers.setdefault(name.split(":")[0], []).append((k, node))
    ranges = {}
    for input_name in input_names:
        sizes, frontier, seen = [], [input_name], set()
        while frontier:
            name = frontier.pop()
            for k, node in consumers.get(name, []):
                if node.name in seen:
                    continue
                seen.add(node.name)
                if node.op in ("GatherV2", "ResourceGather") and k == 1:
                    size = _rows(_through_identity(by_name, node.input[0]))
                    sizes += [size] if size else []
                elif node.op == "OneHot" and k == 0:
                    size = _scalar(_through_identity(by_name, node.input[1]))
                    sizes += [size] if size else []
                elif node.op in _INDEX_PATH_OPS:
                    frontier.append(node.name)
        if sizes:
            ranges[input_name] = min(sizes)
    return ranges


def _through_identity(by_name: dict[str, Any], name: str) -> Any:
    """The node behind `name`, past Identity nodes (frozen variable reads are Const→Identity)."""
    node = by_name.get(name.split(":")[0])
    while node is not None and node.op == "Identity" and node.input:
        node = by_name.get(node.input[0].split(":")[0])
    return node


def _rows(node: Any) -> int | None:
    if node is None or node.op != "Const":
        return None
    dims = node.attr["value"].tensor.tensor_shape.dim
    return int(dims[0].size) if dims and dims[0].size > 0 else None


def _scalar(node: Any) -> int | None:
    if node is None or node.op != "Const":
        return None
    from tensorflow.python.framework import tensor_util

    value = tensor_util.MakeNdarray(node.attr["value"].tensor)
    return int(value) if value.size == 1 else None


def _record(conversion: Conversion, applied: list) -> None:
    for rewrite, nodes in applied:
        conversion.applied.append({
            "name": rewrite.name, "what": rewrite.what, "stage": rewrite.stage,
            "nodes": len(nodes),
            "where": sorted({conversion.where(n) for n in nodes}),
        })


@contextmanager
def convert_hooks(converter: Any, conversion: Conversion,
                  signature: Any) -> Iterator[None]:
    """Wrap the converter's `optimize_graph` and `_build_signature_def` for one call."""
    import tensorflow as tf

    original_optimize = converter.optimize_graph
    original_signature = converter._build_signature_def

    def optimize_graph(graph, signature_def, *args, **kwargs):
        graph_def = graph.as_graph_def()
        applied = rewrites.run_stage("frozen", graph_def)
        _record(conversion, applied)
        found = unsupported_nodes(graph_def)
        if found:
            raise_unsupported(found, conversion)
        placeholders = {info.name.split(":")[0]: key
                        for key, info in signature_def.inputs.items()}
        ranges = int_input_ranges(graph_def, list(placeholders))
        conversion.int_ranges = {placeholders[name]: n for name, n in ranges.items()}
        if applied:
            graph = tf.Graph()
            with graph.as_default():
                tf.graph_util.import_graph_def(graph_def, name="")
        # Our checks before and after replace the converter's, which cannot name layers.
        kwargs["skip_op_check"] = True
        optimized = original_optimize(graph, signature_def, *args, **kwargs)
        _record(conversion, rewrites.run_stage("optimized", optimized))
        broken = {**unsupported_nodes(optimized), **rewrites.unfusable(optimized)}
        if broken:
            raise_unsupported(broken, conversion)
        return optimized

    def build_signature_def(frozen_graph, input_nodes, output_nodes,
                            signature_def=None):
        built = original_signature(frozen_graph, input_nodes, output_nodes, signature_def)
        if signature_def is not None:  # the serving graph, not the table initializer graph
            _name_like_saved_model(built, input_nodes, output_nodes, signature)
        return built

    converter.optimize_graph = optimize_graph
    converter._build_signature_def = build_signature_def
    try:
        yield
    finally:
        converter.optimize_graph = original_optimize
        converter._build_signature_def = original_signature


def _name_like_saved_model(built: Any, input_nodes: Any, output_nodes: Any,
                           signature: Any) -> None:
    """Key TF.js's signature by the SavedModel's own input and output names.

    The converter guesses each name by matching dtype and shape, and falls back to the
    graph tensor name ("Identity_1:0") when two outputs look alike. The concrete
    function's outputs are the signature's outputs flattened, i.e. in sorted key order;
    its inputs are placeholders named after the signature's keys.
    """
    outputs = sorted(signature.outputs)
    renamed = {}
    for key, tensor in zip(outputs, output_nodes, strict=False):
        for old_key, info in built.outputs.items():
            if info.name == tensor.name:
                renamed[key] = (old_key, info)
    inputs = {}
    for key in signature.inputs:
        for old_key, info in built.inputs.items():
            if info.name.split(":")[0] in (key, signature.inputs[key].name.split(":")[0]):
                inputs[key] = (old_key, info)
    for target, mapping in ((built.outputs, renamed), (built.inputs, inputs)):
        copies = {key: type(info)() for key, (_, info) in mapping.items()}
        for key, (_, info) in mapping.items():
            copies[key].CopyFrom(info)
        for _, (old_key, _) in mapping.items():
            if old_key in target:
                del target[old_key]
        for key, info in copies.items():
            target[key].CopyFrom(info)


def quantization_map(quantize: str) -> dict | None:
    """The converter's `quantization_dtype_map`: only the trained weights (variables).

    Never the encoders' constants: a median of 94,661 followers, say, which float16
    (largest value 65,504) would turn into infinity.
    """
    if quantize not in QUANTIZATIONS:
        raise ExportError(f"unknown quantization '{quantize}'", hint="use float16 or uint8")
    return None if quantize == "none" else {quantize: ["*ReadVariableOp"]}


def convert_saved_model(saved_model: Path, web: Path, signature: Any, quantize: str,
                        conversion: Conversion) -> dict:
    """Convert `saved_model` into `web/`; return model.json. Rewrites land in `conversion`."""
    from mlbridge._tf import captured_output, quiet_tensorflow
    from mlbridge.export.converter import saved_model_converter

    quiet_tensorflow()
    with captured_output() as log:
        converter = saved_model_converter()
        try:
            with convert_hooks(converter, conversion, signature):
                converter.convert_tf_saved_model(
                    str(saved_model), str(web), quantization_dtype_map=quantization_map(quantize),
                    weight_shard_size_bytes=_SHARD_BYTES)
            failure = None
        except UnsupportedModel:
            raise
        except Exception as exc:  # the converter raises ValueError, TypeError, ... on bad graphs
            failure = exc
        printed = log.read_text(errors="replace").strip().splitlines()
    if failure is not None:
        last = printed[-1] if printed else ""
        raise ExportError(f"the TF.js converter failed: {str(failure).strip()} {last}".strip(),
                          hint="run with --debug for the converter's traceback") from failure
    model_json = web / "model.json"
    if not model_json.exists():
        raise ExportError("the TF.js converter finished but wrote no model.json")
    return json.loads(model_json.read_text())
