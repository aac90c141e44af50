"""A grouped Conv2D with one input channel per group, as the depthwise conv it is."""

from __future__ import annotations

from typing import Any

from mlbridge.convert.rewrites.base import Rewrite


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
