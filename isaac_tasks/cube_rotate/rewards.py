"""Reward terms of `Orca-Cube-Rotate-v0` (paper 003, Table III), each returning (N,) values.

Kernel widths are ours (the paper gives only the weights): they live here as named constants.
"""

from __future__ import annotations

import torch

POSITION_SCALE = 0.02  # m
SPIN_SCALE = 0.5  # rad/s
REACH_SCALE = 0.05  # m
ALIGNMENT_EPS = 0.1  # rad/s; keeps the alignment of a still cube near zero


def object_position_tracking(cube_pos: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
    return torch.exp(-(cube_pos - origin).norm(dim=-1) / POSITION_SCALE)


def rotation_magnitude_tracking(cube_ang_vel: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
    """Spin about +z against the commanded (signed) rate."""
    return torch.exp(-(((cube_ang_vel[:, 2] - command) / SPIN_SCALE) ** 2))


def rotation_direction_alignment(cube_ang_vel: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
    """Cosine-like alignment in (-1, 1) of the cube's angular velocity with the commanded axis."""
    axis_component = cube_ang_vel[:, 2] * torch.sign(command)
    return axis_component / (cube_ang_vel.norm(dim=-1) + ALIGNMENT_EPS)


def angular_acceleration(cube_ang_vel: torch.Tensor, previous_ang_vel: torch.Tensor) -> torch.Tensor:
    """Negative change of the cube's angular velocity over one control step (acceleration x dt): a penalty."""
    return -(cube_ang_vel - previous_ang_vel).norm(dim=-1)


def reaching_object(fingertip_pos: torch.Tensor, cube_pos: torch.Tensor) -> torch.Tensor:
    distance = (fingertip_pos - cube_pos.unsqueeze(1)).norm(dim=-1)
    return torch.exp(-distance / REACH_SCALE).mean(dim=-1)


def pose_closure(fingertip_pos: torch.Tensor, cube_pos: torch.Tensor) -> torch.Tensor:
    """1 when the fingertip-to-centre directions cancel out (they oppose each other), 0 when all agree."""
    directions = torch.nn.functional.normalize(cube_pos.unsqueeze(1) - fingertip_pos, dim=-1)
    return 1.0 - directions.mean(dim=1).norm(dim=-1)


def l2(x: torch.Tensor) -> torch.Tensor:
    return (x**2).sum(dim=-1)
