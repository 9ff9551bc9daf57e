"""Rotation metrics as the paper reports them: rotations per minute, cumulative rotation, drop rate."""

from __future__ import annotations

import math

import torch

from isaac_tasks.math import axis_angle_from_quat, quat_conjugate, quat_mul


def yaw_increment(quat_prev: torch.Tensor, quat_now: torch.Tensor) -> torch.Tensor:
    """Rotation (rad) about the world z axis between two orientations, for steps under half a turn."""
    return axis_angle_from_quat(quat_mul(quat_now, quat_conjugate(quat_prev)))[..., 2]


def turns(radians: torch.Tensor) -> torch.Tensor:
    return radians / (2.0 * math.pi)


def rotations_per_minute(rotation_turns: torch.Tensor, duration_s: torch.Tensor) -> torch.Tensor:
    return rotation_turns / (duration_s.clamp_min(1e-6) / 60.0)
