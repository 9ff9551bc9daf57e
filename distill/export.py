"""The distilled student for deployment, as TorchScript and ONNX.

The exported network maps (points (B, P, 3), proprio (B, D)[, prefix (B, prefix, A)]) to the chunk
(B, horizon, A) that follows the prefix, with the flow's Euler steps unrolled from a0 = 0; the batch size
is free. Chunked execution (the queue of committed actions, the prefix, the EMA) stays outside the network,
as on a robot: `distill.chunking.ChunkedExecutor` runs it around either file.
"""

from __future__ import annotations

import os

import torch

from distill.student import Student


def example_inputs(student: Student, num_points: int, batch: int = 1) -> tuple[torch.Tensor, ...]:
    c = student.config
    inputs = (torch.zeros(batch, num_points, 3), torch.zeros(batch, c["proprio_dim"]))
    return (*inputs, torch.zeros(batch, c["prefix"], c["action_dim"])) if c["prefix"] else inputs


def input_names(student: Student) -> list[str]:
    return ["points", "proprio", "prefix"][: 3 if student.config["prefix"] else 2]


def export_student(student: Student, num_points: int, folder: str) -> tuple[str, str]:
    """Write `folder`/student.pt (TorchScript) and `folder`/student.onnx; returns their paths."""
    student = student.eval()
    example = example_inputs(student, num_points)
    jit_path, onnx_path = os.path.join(folder, "student.pt"), os.path.join(folder, "student.onnx")
    with torch.no_grad():
        torch.jit.trace(student, example, check_trace=False).save(jit_path)
        names = input_names(student)
        torch.onnx.export(
            student,
            example,
            onnx_path,
            input_names=names,
            output_names=["chunk"],
            dynamic_axes={name: {0: "batch"} for name in (*names, "chunk")},
            opset_version=18,
            dynamo=False,  # the TorchScript-based exporter: a second where torch.export takes ten and agrees
        )
    return jit_path, onnx_path
