"""The two flow priors of the paper (A.2.2) and how they meet demonstrations and the grasping task.

- `hand`: conditioned on the 16 finger joint positions, predicts the next two finger targets (16 each).
- `hand_arm`: conditioned on the object pose and the robot's proprioception (7 + 23 + 23), predicts
  the next two hand-and-arm actions of 23 numbers: the arm's delta position (3, in units of the
  per-step limit), its delta rotation as a quaternion (4) and the 16 finger targets. Table 2's 23 x 2
  latent against a 22-dim residual reads as this quaternion form of the 6D delta pose.

Conditions come from the task's physics state (no second simulator query) or from demonstration
observations; both give the same vector.
"""

from __future__ import annotations

import torch

from agents.demonstrations import Episode
from isaac_tasks.math import axis_angle_from_quat, quat_from_axis_angle

HORIZON = 2
NUM_FINGERS = 16
VARIANTS = {"hand": {"action_dim": 16, "cond_dim": 16}, "hand_arm": {"action_dim": 23, "cond_dim": 53}}


def check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown prior variant '{variant}'; available: {', '.join(VARIANTS)}")


def condition(
    variant: str, joint_pos: torch.Tensor, joint_vel: torch.Tensor, object_pose: torch.Tensor
) -> torch.Tensor:
    """(N, cond_dim) from joint positions and velocities (N, 23) and the object pose (N, 7: pos, quat)."""
    if variant == "hand":
        return joint_pos[:, -NUM_FINGERS:]
    return torch.cat((object_pose, joint_pos, joint_vel), dim=-1)


def env_condition(variant: str, env) -> torch.Tensor:
    s = env.physics.state
    return condition(variant, s.joint_pos, s.joint_vel, torch.cat((s.body_pos[:, 0], s.body_quat[:, 0]), dim=-1))


def prior_action(variant: str, task_action: torch.Tensor, rotation_limit: float) -> torch.Tensor:
    """Demonstration-format actions (..., 22) in the prior's action space."""
    if variant == "hand":
        return task_action[..., -NUM_FINGERS:]
    rotation = quat_from_axis_angle(task_action[..., 3:6] * rotation_limit)
    return torch.cat((task_action[..., :3], rotation, task_action[..., 6:]), dim=-1)


def arm_and_fingers(
    variant: str, prior_actions: torch.Tensor, rotation_limit: float
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """The prior's actions as (arm delta pose in [-1, 1] (N, 6) or None for the hand prior, finger targets)."""
    if variant == "hand":
        return None, prior_actions
    rotation = axis_angle_from_quat(torch.nn.functional.normalize(prior_actions[..., 3:7], dim=-1)) / rotation_limit
    arm = torch.cat((prior_actions[..., :3], rotation), dim=-1).clamp(-1.0, 1.0)
    return arm, prior_actions[..., 7:]


def dataset(variant: str, episodes: list[Episode], rotation_limit: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(conditions (M, cond_dim), actions (M, 2, action_dim)) of every pair of consecutive steps."""
    conds, actions = [], []
    for e in episodes:
        if len(e) < HORIZON:
            continue
        o = {key: torch.from_numpy(value) for key, value in e.obs.items()}
        pose = torch.cat((o["object_pos"], o["object_quat"]), dim=-1)
        cond = condition(variant, o["joint_pos"], o["joint_vel"], pose)
        act = prior_action(variant, torch.from_numpy(e.actions), rotation_limit)
        conds.append(cond[: len(e) - 1])
        actions.append(torch.stack((act[:-1], act[1:]), dim=1))
    if not conds:
        raise ValueError("no demonstration has two or more steps")
    return torch.cat(conds), torch.cat(actions)
