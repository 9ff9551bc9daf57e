"""Reward terms of `Leap-Grasp-v0`, each a pure function of batched state returning (N,) magnitudes.

The three stages of the paper (A.2.1): finger-object proximity, stable fingertip-palm contact, lifting to
a target height; and its penalties: excessive lifting, joint-limit violations. Weights, with their
signs, live in `RewardWeights`.
"""

from __future__ import annotations

import torch

PROXIMITY_SCALE = 0.1  # m; distance at which proximity rewards fall to about a quarter


def palm_proximity(palm_pos: torch.Tensor, object_pos: torch.Tensor) -> torch.Tensor:
    return 1.0 - torch.tanh((palm_pos - object_pos).norm(dim=-1) / PROXIMITY_SCALE)


def fingertip_proximity(fingertip_pos: torch.Tensor, object_pos: torch.Tensor) -> torch.Tensor:
    """Mean over fingertips (N, F, 3)."""
    distance = (fingertip_pos - object_pos.unsqueeze(1)).norm(dim=-1)
    return (1.0 - torch.tanh(distance / PROXIMITY_SCALE)).mean(dim=-1)


def grasp_contact(thumb_contact: torch.Tensor, opposing_contact: torch.Tensor) -> torch.Tensor:
    """Half for the thumb on the object, half for a finger or the palm opposing it; 1 for both."""
    return 0.5 * thumb_contact.float() + 0.5 * opposing_contact.float()


def lift(height: torch.Tensor, held: torch.Tensor, target_height: float) -> torch.Tensor:
    """Progress of a held object towards the target height, in [0, 1]."""
    return held.float() * (height / target_height).clamp(0.0, 1.0)


def target_tracking(object_pos: torch.Tensor, target_pos: torch.Tensor, held: torch.Tensor) -> torch.Tensor:
    return held.float() * (1.0 - torch.tanh((object_pos - target_pos).norm(dim=-1) / PROXIMITY_SCALE))


def excessive_lift(height: torch.Tensor, max_height: float) -> torch.Tensor:
    """Metres above max_height."""
    return (height - max_height).clamp_min(0.0)


def joint_limit(joint_pos: torch.Tensor, limits: torch.Tensor, soft_fraction: float) -> torch.Tensor:
    """Sum over joints of the radians beyond the soft limits (the central soft_fraction of each range)."""
    center = limits.mean(dim=-1)
    half_range = 0.5 * soft_fraction * (limits[:, 1] - limits[:, 0])
    return ((joint_pos - center).abs() - half_range).clamp_min(0.0).sum(dim=-1)
