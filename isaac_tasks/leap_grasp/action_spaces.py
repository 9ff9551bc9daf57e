"""Action spaces of the grasping task: how a policy output becomes an arm and a finger command.

Every action space maps (N, num_actions) policy outputs to a normalized 6D arm delta pose in [-1, 1]
(scaled by the task's per-step limits) and absolute finger joint targets. The tabula-rasa spaces of
SPEC section 2 live here; the latent and residual spaces of the flow prior live in agents/flow_steering.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib import import_module
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from isaac_tasks.leap_grasp.leap_grasp_env import LeapGraspEnv

NUM_ARM_ACTIONS = 6
NUM_FINGER_JOINTS = 16


class ActionSpace(ABC):
    num_actions: int

    def __init__(self, env: LeapGraspEnv):
        self.env = env

    @abstractmethod
    def __call__(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(arm delta pose in [-1, 1] (N, 6), finger joint targets (N, 16))."""

    def reset(self, env_ids: torch.Tensor) -> None:
        """Clear per-episode state of env_ids."""


class AbsoluteJointPose(ActionSpace):
    """6 (delta arm pose) + 16 (absolute finger joints, [-1, 1] mapped onto the joint range)."""

    num_actions = NUM_ARM_ACTIONS + NUM_FINGER_JOINTS

    def __call__(self, actions):
        actions = actions.clamp(-1.0, 1.0)
        low, high = self.env.finger_limits.unbind(-1)
        return actions[:, :NUM_ARM_ACTIONS], low + 0.5 * (actions[:, NUM_ARM_ACTIONS:] + 1.0) * (high - low)


class RelativeJointPose(ActionSpace):
    """6 (delta arm pose) + 16 (finger joint deltas from the last targets, up to finger_delta_limit)."""

    num_actions = NUM_ARM_ACTIONS + NUM_FINGER_JOINTS

    def __call__(self, actions):
        actions = actions.clamp(-1.0, 1.0)
        delta = actions[:, NUM_ARM_ACTIONS:] * self.env.cfg.finger_delta_limit
        low, high = self.env.finger_limits.unbind(-1)
        return actions[:, :NUM_ARM_ACTIONS], torch.clamp(self.env.finger_targets + delta, low, high)


class ChunkedActionSpace(ActionSpace):
    """An action space that plans `chunk_length` steps per policy decision (run by isaac_tasks/chunked_env.py).

    The wrapper sets `sub_step` before each control step and calls `restart` for environments reset inside
    the chunk; those plan a new chunk from their new state at once.
    """

    chunk_length: int

    def __init__(self, env: LeapGraspEnv):
        super().__init__(env)
        self.sub_step = 0
        self.chunk: torch.Tensor | None = None  # (N, chunk_length, ...), allocated on the first plan
        self.chunk_start = torch.zeros(env.num_envs, dtype=torch.long, device=env.device)  # sub-step of step 0
        self.restarting = torch.zeros(env.num_envs, dtype=torch.bool, device=env.device)

    @abstractmethod
    def plan(self, actions: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
        """(n, chunk_length, ...) the chunk of the `fresh` environments (a boolean mask) from their state."""

    def restart(self, env_ids: torch.Tensor) -> None:
        self.restarting[env_ids] = True

    def chunk_step(self, actions: torch.Tensor) -> torch.Tensor:
        """(N, ...) this sub-step's planned step of every environment, planning chunks where due."""
        fresh = torch.ones_like(self.restarting) if self.sub_step == 0 else self.restarting
        if fresh.any():
            planned = self.plan(actions, fresh)
            if self.chunk is None:
                self.chunk = planned.new_zeros(len(fresh), *planned.shape[1:])
            self.chunk[fresh] = planned
            self.chunk_start[fresh] = self.sub_step
            self.restarting[:] = False
        index = (self.sub_step - self.chunk_start).clamp(max=self.chunk_length - 1)
        return self.chunk[torch.arange(len(index), device=index.device), index]


# Resolved on use ("module:Class"): the flow-steering spaces live with the agents.
ACTION_SPACES: dict[str, str] = {
    "abs_joint": "isaac_tasks.leap_grasp.action_spaces:AbsoluteJointPose",
    "rel_joint": "isaac_tasks.leap_grasp.action_spaces:RelativeJointPose",
    "rfs_hand": "agents.flow_steering:RFSHand",
    "rfs_hand_arm": "agents.flow_steering:RFSHandArm",
    "rfs_chunk_hand": "agents.flow_steering:RFSChunkHand",
    "dsrl_hand": "agents.flow_steering:DSRLHand",
    "dsrl_hand_arm": "agents.flow_steering:DSRLHandArm",
    "residual_hand_arm": "agents.flow_steering:ResidualHandArm",
    "pca": "agents.pca:PCAFingerSpace",
    "vqvae": "agents.vqvae:VQVAEFingerSpace",
}


def action_space_class(name: str) -> type[ActionSpace]:
    if name not in ACTION_SPACES:
        raise ValueError(f"unknown action space '{name}'; available: {', '.join(ACTION_SPACES)}")
    module, attribute = ACTION_SPACES[name].split(":")
    return getattr(import_module(module), attribute)
