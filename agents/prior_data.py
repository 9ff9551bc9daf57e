"""Flow priors and the tasks they serve: the interface a task provides (`PriorIO`), the training windows of
demonstrations, the check of a saved prior, and `PriorPolicy`, a prior alone as the policy.

The paper's two variants (000, A.2.2) are `hand` (finger joints in, finger targets out; the policy commands
the arm) and `hand_arm` (object and robot state in, arm and finger actions out). What their conditions and
actions hold is the task's: `env.prior_io`, or `isaac_tasks.make_prior_io(task)` without an environment.
Both predict `horizon` consecutive actions (2 as the paper; the prior's config holds it).
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch

from agents.demonstrations import Episode
from agents.ppo_runner import CheckpointError

HORIZON = 2  # the paper's: the next two actions


class PriorIO(Protocol):
    """A task's side of its flow priors."""

    variants: dict[str, dict[str, int]]  # variant -> {"action_dim": ..., "cond_dim": ...}

    def drives_arm(self, variant: str) -> bool:
        """Whether the variant's actions include the arm command (else the policy gives it)."""

    def stale_hint(self, variant: str, config: dict) -> str:
        """Why a saved prior with these sizes no longer fits the variant, if known ("" otherwise)."""

    def env_condition(self, variant: str, env) -> torch.Tensor:
        """(N, cond_dim) from the environment's state."""

    def obs_condition(self, variant: str, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(T, cond_dim) from a demonstration's observations."""

    def prior_action(self, variant: str, task_action: torch.Tensor) -> torch.Tensor:
        """Task actions (..., arm command + finger targets) in the prior's action space."""

    def arm_and_fingers(self, variant: str, prior_actions: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The prior's actions as (arm command in [-1, 1], or None where the variant has no arm; finger targets)."""


def check_variant(io: PriorIO, variant: str) -> None:
    if variant not in io.variants:
        raise ValueError(f"unknown prior variant '{variant}'; available: {', '.join(io.variants)}")


def check_prior(path: str, config: dict, metadata: dict, task: str, io: PriorIO, variant: str, user: str) -> None:
    """Raise CheckpointError (one line naming `path` and the mismatch) unless the saved prior is a `variant`
    prior of `task` with today's condition and action sizes; `user` says who needs it."""
    expected = io.variants[variant]
    found = {key: config.get(key) for key in expected}
    if metadata.get("task") == task and metadata.get("variant") == variant and found == expected:
        return
    hint = io.stale_hint(variant, found) if metadata.get("variant") == variant else ""
    raise CheckpointError(
        f"{path} is a '{metadata.get('variant')}' prior of {metadata.get('task')} with {found}; "
        f"{user} needs a '{variant}' prior of {task} with {expected}{hint}"
    )


def dataset(
    io: PriorIO, variant: str, episodes: list[Episode], horizon: int = HORIZON
) -> tuple[torch.Tensor, torch.Tensor]:
    """(conditions (M, cond_dim), actions (M, horizon, action_dim)) of every window of `horizon` consecutive
    steps, conditioned on the observation before its first step."""
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of steps, got {horizon}")
    conds, actions = [], []
    for e in episodes:
        if len(e) < horizon:
            continue
        cond = io.obs_condition(variant, {key: torch.from_numpy(value) for key, value in e.obs.items()})
        act = io.prior_action(variant, torch.from_numpy(e.actions))
        conds.append(cond[: len(e) - horizon + 1])
        actions.append(act.unfold(0, horizon, 1).transpose(1, 2))  # (T - horizon + 1, horizon, action_dim)
    if not conds:
        raise ValueError(f"no demonstration has {horizon} or more steps")
    return torch.cat(conds), torch.cat(actions)


class PriorPolicy:
    """A prior alone as the policy of an `abs_joint` environment, executing its chunks: every
    environment samples a0 ~ N(0, I) at the start of its episode and again every `horizon` steps after,
    and executes the `horizon` predicted actions one after the other (the paper's horizon 2: re-plan every
    second step), so it does not switch between grasp modes from one step to the next.

    `arm()` gives the arm command of every environment for a variant without arm (the hand prior); it is
    called once per step, after the prior planned. `plans` counts the prior's calls.
    """

    def __init__(
        self,
        model,
        variant: str,
        env,
        arm: Callable[[], torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ):
        if not env.prior_io.drives_arm(variant) and arm is None:
            raise ValueError(f"the {variant} prior has no arm: give the arm's command")
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
            cond = env.prior_io.env_condition(self.variant, env)[due]
            self.chunk[due] = self.model.sample(cond, generator=self.generator).to(self.chunk.dtype)
            self.unplanned[due] = False
            self.plans += 1
            self.planned_rows += int(due.sum())
        action = self.chunk[torch.arange(env.num_envs, device=env.device), step]
        arm, fingers = env.prior_io.arm_and_fingers(self.variant, action)
        if arm is None:
            arm = self.arm()
        low, high = env.finger_limits.unbind(-1)
        return torch.cat((arm, 2.0 * (fingers - low) / (high - low) - 1.0), dim=-1)
