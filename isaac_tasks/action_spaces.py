"""Action spaces of an arm-and-hand task, whatever the task: how a policy output becomes a command.

An action space maps (N, num_actions) policy outputs to an arm command in [-1, 1] (N, env.num_arm_actions;
the task scales it, a 6D delta end-effector pose for the grasping task) and absolute finger joint targets
(N, env.num_finger_joints). The environment it serves provides `num_arm_actions`, `num_finger_joints`,
`finger_limits` (num_finger_joints, 2), `finger_targets` (the last targets), `cfg` and `task_id`. A task
names its action spaces in a registry of "module:Class" strings (`action_space_class`); the tabula-rasa
spaces of SPEC section 2 live here, those of the learners (flow steering, PCA, VQ-VAE) in `agents/`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib import import_module

import torch


class ActionSpace(ABC):
    num_actions: int
    settings: tuple[str, ...] = ()  # the env config settings this mapping reads (a checkpoint records them)

    def __init__(self, env):
        self.env = env

    @abstractmethod
    def __call__(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(arm command in [-1, 1] (N, num_arm_actions), finger joint targets (N, num_finger_joints))."""

    def reset(self, env_ids: torch.Tensor) -> None:
        """Clear per-episode state of env_ids."""

    @classmethod
    def inputs(cls) -> dict[str, str]:
        """The files this space reads: config setting -> the kind of file it names (e.g. prior_hand)."""
        return {}

    @classmethod
    def check_input(cls, task: str, setting: str, path: str) -> None:
        """Read the file of `setting` as the space will, raising an error that names it if it does not fit
        `task`: a wrong file stops a long job (a comparison) before its first run."""

    def clamp_fingers(self, targets: torch.Tensor) -> torch.Tensor:
        low, high = self.env.finger_limits.unbind(-1)
        return torch.clamp(targets, low, high)


class JointPose(ActionSpace):
    """Arm command + one number in [-1, 1] per finger joint; subclasses say what the number means."""

    def __init__(self, env):
        super().__init__(env)
        self.num_actions = env.num_arm_actions + env.num_finger_joints

    def split(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(arm command, finger numbers), both clamped to [-1, 1]."""
        actions = actions.clamp(-1.0, 1.0)
        return actions[:, : self.env.num_arm_actions], actions[:, self.env.num_arm_actions :]


class AbsoluteJointPose(JointPose):
    """Arm command + absolute finger joints, [-1, 1] mapped onto the joint range."""

    def __call__(self, actions):
        arm, fingers = self.split(actions)
        low, high = self.env.finger_limits.unbind(-1)
        return arm, low + 0.5 * (fingers + 1.0) * (high - low)


class RelativeJointPose(JointPose):
    """Arm command + finger joint deltas from the last targets, up to the task's `finger_delta_limit`."""

    settings = ("finger_delta_limit",)

    def __call__(self, actions):
        arm, fingers = self.split(actions)
        return arm, self.clamp_fingers(self.env.finger_targets + fingers * self.env.cfg.finger_delta_limit)


class ChunkedActionSpace(ActionSpace):
    """An action space that plans `chunk_length` steps per policy decision (run by isaac_tasks/chunked_env.py).

    The wrapper sets `sub_step` before each control step and calls `restart` for environments reset inside
    the chunk; those plan a new chunk from their new state at once.
    """

    chunk_length: int

    def __init__(self, env):
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


def action_space_class(registry: dict[str, str], name: str) -> type[ActionSpace]:
    """The class `registry` (name -> "module:Class") names, imported on use."""
    if name not in registry:
        raise ValueError(f"unknown action space '{name}'; available: {', '.join(registry)}")
    module, attribute = registry[name].split(":")
    return getattr(import_module(module), attribute)
