"""What the flow priors of the grasping task see and predict (paper 000, A.2.2): the task side of
`agents.prior_data.PriorIO`. Sizes below are the LEAP hand's (16 joints); other hands scale them.

- `hand`: conditioned on the 16 finger joint positions, predicts finger targets (16 per step).
- `hand_arm`: conditioned on the object pose, the object's geometry and the robot's proprioception
  (7 + 8 + 23 + 23 = 61), predicts hand-and-arm actions of 23 numbers: the arm's delta position (3, in units
  of the per-step limit), its delta rotation as a quaternion (4) and the 16 finger targets. Table 2's 23 x 2
  latent against a 22-dim residual reads as this quaternion form of the 6D delta pose. The geometry (the
  object's 3 primitive half-sizes and a one-hot of its 5 shapes, the env's `object_geometry`) is what a
  teleoperator sees and the paper's pose-only condition lacks: without it the prior cannot tell a marker
  from a can at the same pose.

Conditions come from the task's physics state (no second simulator query) or from demonstration
observations (agents/demonstrations.py OBS_FIELDS); both give the same vector.
"""

from __future__ import annotations

import torch

from assets.franka import ARM_JOINT_NAMES
from assets.objects import GEOMETRY_DIM
from isaac_tasks.grasp.grasp_env_cfg import GraspEnvCfg
from isaac_tasks.math import axis_angle_from_quat, quat_from_axis_angle


class GraspPriorIO:
    def __init__(self, cfg: GraspEnvCfg, num_fingers: int):
        self.rotation_limit = cfg.arm_rotation_limit
        self.num_fingers = num_fingers
        joints = len(ARM_JOINT_NAMES) + num_fingers
        self.variants = {
            "hand": {"action_dim": num_fingers, "cond_dim": num_fingers},
            "hand_arm": {"action_dim": 3 + 4 + num_fingers, "cond_dim": 7 + GEOMETRY_DIM + 2 * joints},
        }

    def drives_arm(self, variant: str) -> bool:
        return variant == "hand_arm"

    def stale_hint(self, variant: str, config: dict) -> str:
        """Why a saved prior of `variant` with these sizes no longer fits, if known."""
        if variant == "hand_arm" and config.get("cond_dim") == self.variants[variant]["cond_dim"] - GEOMETRY_DIM:
            return " (made before the object geometry joined the condition: retrain it with tools/train_prior.py)"
        return ""

    def condition(self, variant, joint_pos, joint_vel, object_pose, object_geometry) -> torch.Tensor:
        """(N, cond_dim) from joint positions and velocities (N, 23), the object pose (N, 7: pos, quat) and the
        object geometry (N, 8). The hand prior sees only the finger joints."""
        if variant == "hand":
            return joint_pos[:, -self.num_fingers :]
        return torch.cat((object_pose, object_geometry.to(object_pose.dtype), joint_pos, joint_vel), dim=-1)

    def env_condition(self, variant: str, env) -> torch.Tensor:
        s = env.physics.state
        pose = torch.cat((s.body_pos[:, 0], s.body_quat[:, 0]), dim=-1)
        return self.condition(variant, s.joint_pos, s.joint_vel, pose, env.object_geometry)

    def obs_condition(self, variant: str, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(T, cond_dim) from demonstration observations ((T, d) each)."""
        pose = torch.cat((obs["object_pos"], obs["object_quat"]), dim=-1)
        return self.condition(variant, obs["joint_pos"], obs["joint_vel"], pose, obs["object_geometry"])

    def prior_action(self, variant: str, task_action: torch.Tensor) -> torch.Tensor:
        """Task actions (..., 22: arm delta pose in [-1, 1], finger targets) in the prior's action space."""
        if variant == "hand":
            return task_action[..., -self.num_fingers :]
        rotation = quat_from_axis_angle(task_action[..., 3:6] * self.rotation_limit)
        return torch.cat((task_action[..., :3], rotation, task_action[..., 6:]), dim=-1)

    def arm_and_fingers(self, variant: str, prior_actions: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The prior's actions as (arm delta pose in [-1, 1] (N, 6), or None for the hand prior; finger targets)."""
        if variant == "hand":
            return None, prior_actions
        rotation = axis_angle_from_quat(torch.nn.functional.normalize(prior_actions[..., 3:7], dim=-1))
        arm = torch.cat((prior_actions[..., :3], rotation / self.rotation_limit), dim=-1).clamp(-1.0, 1.0)
        return arm, prior_actions[..., 7:]
