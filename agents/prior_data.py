"""The two flow priors of the paper (A.2.2) and how they meet demonstrations and the grasping task.

- `hand`: conditioned on the 16 finger joint positions, predicts the next finger targets (16 each).
- `hand_arm`: conditioned on the object pose, the object's geometry and the robot's proprioception
  (7 + 8 + 23 + 23 = 61), predicts the next hand-and-arm actions of 23 numbers: the arm's delta position
  (3, in units of the per-step limit), its delta rotation as a quaternion (4) and the 16 finger targets.
  Table 2's 23 x 2 latent against a 22-dim residual reads as this quaternion form of the 6D delta pose.
  The geometry (the object's 3 primitive half-sizes and a one-hot of its 5 shapes, the task's
  `object_geometry`) is what a teleoperator sees and the paper's pose-only condition lacks: without it the
  prior cannot tell a marker from a can at the same pose.

Both predict `horizon` consecutive actions (2 as the paper; the prior's config holds it). Conditions come
from the task's physics state (no second simulator query) or from demonstration observations; both give
the same vector. `PriorPolicy` runs a prior alone as the policy, executing its chunks.
"""

from __future__ import annotations

from typing import Callable

import torch

from agents.demonstrations import OBS_FIELDS, Episode
from agents.ppo_runner import CheckpointError
from isaac_tasks.math import axis_angle_from_quat, quat_from_axis_angle

TASK = "Leap-Grasp-v0"
HORIZON = 2  # the paper's: the next two actions
NUM_FINGERS = 16
GEOMETRY_DIM = OBS_FIELDS["object_geometry"]
VARIANTS = {
    "hand": {"action_dim": 16, "cond_dim": 16},
    "hand_arm": {"action_dim": 23, "cond_dim": 7 + GEOMETRY_DIM + 23 + 23},
}


def check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown prior variant '{variant}'; available: {', '.join(VARIANTS)}")


def check_prior(path: str, config: dict, metadata: dict, variant: str, user: str) -> None:
    """Raise CheckpointError (one line naming `path` and the mismatch) unless the saved prior is a `variant`
    prior of the grasping task with today's condition and action sizes; `user` says who needs it."""
    expected = VARIANTS[variant]
    found = {key: config.get(key) for key in expected}
    if metadata.get("task") == TASK and metadata.get("variant") == variant and found == expected:
        return
    hint = ""
    if metadata.get("variant") == "hand_arm" and found.get("cond_dim") == expected["cond_dim"] - GEOMETRY_DIM:
        hint = " (made before the object geometry joined the condition: retrain it with tools/train_prior.py)"
    raise CheckpointError(
        f"{path} is a '{metadata.get('variant')}' prior of {metadata.get('task')} with {found}; "
        f"{user} needs a '{variant}' prior of {TASK} with {expected}{hint}"
    )


def condition(
    variant: str,
    joint_pos: torch.Tensor,
    joint_vel: torch.Tensor,
    object_pose: torch.Tensor,
    object_geometry: torch.Tensor,
) -> torch.Tensor:
    """(N, cond_dim) from joint positions and velocities (N, 23), the object pose (N, 7: pos, quat) and the
    object geometry (N, 8: half-sizes, one-hot shape). The hand prior sees only the finger joints."""
    if variant == "hand":
        return joint_pos[:, -NUM_FINGERS:]
    return torch.cat((object_pose, object_geometry.to(object_pose.dtype), joint_pos, joint_vel), dim=-1)


def env_condition(variant: str, env) -> torch.Tensor:
    s = env.physics.state
    pose = torch.cat((s.body_pos[:, 0], s.body_quat[:, 0]), dim=-1)
    return condition(variant, s.joint_pos, s.joint_vel, pose, env.object_geometry)


def obs_condition(variant: str, obs: dict[str, torch.Tensor]) -> torch.Tensor:
    """(T, cond_dim) from demonstration observations (OBS_FIELDS, (T, d) each)."""
    pose = torch.cat((obs["object_pos"], obs["object_quat"]), dim=-1)
    return condition(variant, obs["joint_pos"], obs["joint_vel"], pose, obs["object_geometry"])


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


def dataset(
    variant: str, episodes: list[Episode], rotation_limit: float, horizon: int = HORIZON
) -> tuple[torch.Tensor, torch.Tensor]:
    """(conditions (M, cond_dim), actions (M, horizon, action_dim)) of every window of `horizon` consecutive
    steps, conditioned on the observation before its first step."""
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of steps, got {horizon}")
    conds, actions = [], []
    for e in episodes:
        if len(e) < horizon:
            continue
        cond = obs_condition(variant, {key: torch.from_numpy(value) for key, value in e.obs.items()})
        act = prior_action(variant, torch.from_numpy(e.actions), rotation_limit)
        conds.append(cond[: len(e) - horizon + 1])
        actions.append(act.unfold(0, horizon, 1).transpose(1, 2))  # (T - horizon + 1, horizon, action_dim)
    if not conds:
        raise ValueError(f"no demonstration has {horizon} or more steps")
    return torch.cat(conds), torch.cat(actions)


class PriorPolicy:
    """A prior alone as the policy of an `abs_joint` grasping environment, executing its chunks: every
    environment samples a0 ~ N(0, I) at the start of its episode and again every `horizon` steps after,
    and executes the `horizon` predicted actions one after the other (the paper's horizon 2: re-plan every
    second step), so it does not switch between grasp modes from one step to the next.

    `arm()` gives the (N, 6) arm command of every environment for the hand prior, which has no arm; it is
    called once per step, after the prior planned (unused for hand_arm). `plans` counts the prior's calls.
    """

    def __init__(
        self,
        model,
        variant: str,
        env,
        arm: Callable[[], torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ):
        if variant == "hand" and arm is None:
            raise ValueError("the hand prior has no arm: give the arm's command")
        self.model, self.variant, self.env, self.arm, self.generator = model, variant, env, arm, generator
        self.horizon = model.horizon
        self.chunk = torch.zeros(env.num_envs, self.horizon, model.action_dim, device=env.device)
        self.unplanned = torch.ones(env.num_envs, dtype=torch.bool, device=env.device)
        self.plans = 0  # prior calls
        self.planned_rows = 0  # chunks sampled, over all environments

    @torch.no_grad()
    def __call__(self, _obs=None) -> torch.Tensor:
        env = self.env
        step = env.episode_length_buf % self.horizon  # 0 right after a reset, then counting up
        due = (step == 0) | self.unplanned
        if due.any():
            cond = env_condition(self.variant, env)[due]
            self.chunk[due] = self.model.sample(cond, generator=self.generator).to(self.chunk.dtype)
            self.unplanned[due] = False
            self.plans += 1
            self.planned_rows += int(due.sum())
        action = self.chunk[torch.arange(env.num_envs, device=env.device), step]
        arm, fingers = arm_and_fingers(self.variant, action, env.cfg.arm_rotation_limit)
        if arm is None:
            arm = self.arm()
        low, high = env.finger_limits.unbind(-1)
        return torch.cat((arm, 2.0 * (fingers - low) / (high - low) - 1.0), dim=-1)
