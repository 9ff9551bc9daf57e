"""The distilled student for deployment, as TorchScript and ONNX.

The exported network maps its inputs, ([points (B, P, 3)], proprio (B, D)[, prefix (B, prefix, A)]) (a point
cloud for a student that sees one, committed actions for one that reads them), to the chunk (B, horizon, A)
that follows the prefix, with the flow's Euler steps unrolled from a0 = 0; the batch size is free. Chunked
execution (the queue of committed actions, the prefix, the EMA) stays outside the network, as on a robot:
`distill.chunking.ChunkedExecutor` runs it around either file.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from distill.student import Student


def input_names(student: Student) -> list[str]:
    c = student.config
    return [*(["points"] if c["point_cloud"] else []), "proprio", *(["prefix"] if c["prefix"] else [])]


class ExportedStudent(nn.Module):
    """The student's forward pass on exactly the inputs it uses, in `input_names` order."""

    def __init__(self, student: Student):
        super().__init__()
        self.student, self.names = student, input_names(student)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.names, inputs))
        return self.student(named.get("points"), named["proprio"], named.get("prefix"))


def export_student(student: Student, folder: str, num_points: int = 0) -> tuple[str, str]:
    """Write `folder`/student.pt (TorchScript) and `folder`/student.onnx; returns their paths. `num_points`: the
    size of the point cloud the student was trained on (a student with one)."""
    c = student.config
    shapes = {
        "points": (1, num_points, 3),
        "proprio": (1, c["proprio_dim"]),
        "prefix": (1, c["prefix"], c["action_dim"]),
    }
    network = ExportedStudent(student.eval())
    example = tuple(torch.zeros(shapes[name]) for name in network.names)
    jit_path, onnx_path = os.path.join(folder, "student.pt"), os.path.join(folder, "student.onnx")
    with torch.no_grad():
        torch.jit.trace(network, example, check_trace=False).save(jit_path)
        torch.onnx.export(
            network,
            example,
            onnx_path,
            input_names=network.names,
            output_names=["chunk"],
            dynamic_axes={name: {0: "batch"} for name in (*network.names, "chunk")},
            opset_version=18,
            dynamo=False,  # the TorchScript-based exporter: a second where torch.export takes ten and agrees
        )
    return jit_path, onnx_path
