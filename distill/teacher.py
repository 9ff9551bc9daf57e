"""The privileged-state teacher inside a distillation rollout, whatever its action space.

The teacher runs in an environment of its own action space (its observations include its last action),
but what is executed each step is a hand_arm command (`distill.student`): the teacher's own
command, converted, or the student's. `CommandOverride` puts that command between the policy and the
task; the label of every step is the teacher's command in the same form.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from agents.ppo_runner import CheckpointError, env_defaults, env_overrides, load_policy, read_checkpoint
from distill.student import command_of, command_to_arm_and_fingers
from isaac_tasks import env_class, make_agent_cfg, make_env, task_entry


class CommandOverride:
    """The teacher's action space, except that the step after `execute` runs the given command."""

    def __init__(self, space):
        self.space = space
        self.command: tuple[torch.Tensor, torch.Tensor] | None = None

    def __getattr__(self, name):
        return getattr(self.space, name)

    def __call__(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        command, self.command = self.command, None
        return command if command is not None else self.space(actions)

    def reset(self, env_ids: torch.Tensor) -> None:
        self.space.reset(env_ids)


class SplitTeacher:
    """Teachers of the values of the task's comparison split (the paper's pinch and power policies), each acting in
    the environments whose episodes are of its value."""

    def __init__(self, env, policies: dict[str, object]):
        self.policies = policies
        self._members = {value: env.comparison_members(value).unsqueeze(-1) for value in policies}  # fixed per env

    def __call__(self, obs) -> torch.Tensor:
        actions = None
        for value, policy in self.policies.items():
            own = policy(obs)
            actions = own if actions is None else torch.where(self._members[value], own, actions)
        return actions


def load_teacher(paths: str | Sequence[str], commands: bool | None = None, **env_settings):
    """(environment of the teacher's task, in its action space, with a `CommandOverride` where the student's
    actions are the task's hand_arm commands; teacher policy; checkpoint infos). `commands=True` refuses a
    task without them (a point-cloud dataset needs them); None takes what the task has. Several paths: one
    teacher per value of the task's comparison split, together covering every value (a `SplitTeacher`, on all of
    the task's episodes); they must share the action space and its settings."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    infos = [read_checkpoint(path)["infos"] for path in paths]
    info, task = infos[0], infos[0].get("task")
    has_commands = bool(task_entry(task).prior_io)  # the student's commands are the task's hand_arm prior actions
    if commands and not has_commands:
        raise CheckpointError(
            f"teacher {paths[0]} was trained on task '{task}', which has no flow-prior commands for a point-cloud student"
        )
    if len(paths) > 1:
        values = check_split_teachers(paths, infos)
        info = {key: value for key, value in info.items() if key != "trained_on"}
    env = make_env(task, **{**env_defaults(info), **env_settings}, **env_overrides(info))
    if getattr(getattr(env, "action_space", None), "chunk_length", 1) > 1:
        raise ValueError(
            f"teacher {paths[0]}: action space '{info.get('action_space')}' chunks its actions; not supported"
        )
    policies = [load_policy(env, task, path, make_agent_cfg(task))[1] for path in paths]
    policy = policies[0] if len(paths) == 1 else SplitTeacher(env, dict(zip(values, policies)))
    if has_commands:
        env.action_space = CommandOverride(env.action_space)
    return env, policy, info


def check_split_teachers(paths: Sequence[str], infos: Sequence[dict]) -> list[str]:
    """The comparison-split value each of several teachers was trained on; an error unless they share task and
    action settings and cover every value of the split once."""
    task = infos[0].get("task")
    split = env_class(task).comparison_split
    if split is None:
        raise CheckpointError(f"task '{task}' has no comparison split: give one teacher")
    setting, all_values = split
    values = []
    for path, info in zip(paths, infos):
        if info.get("task") != task or env_overrides(info) != env_overrides(infos[0]):
            raise CheckpointError(f"teacher {path} differs from {paths[0]} in task or action settings")
        value = info.get("trained_on", {}).get(setting)
        if value not in all_values:
            raise CheckpointError(f"teacher {path} was not trained on one {setting} of {', '.join(all_values)}")
        values.append(value)
    if sorted(values) != sorted(all_values):
        raise CheckpointError(
            f"teachers cover {setting} {', '.join(values)}; give one for each of {', '.join(all_values)}"
        )
    return values


def teacher_command(env, teacher_actions: torch.Tensor) -> torch.Tensor:
    """The hand_arm command (N, action_dim) the teacher's actions amount to in the current state."""
    return command_of(env, *env.action_space.space(teacher_actions))


def execute(env, command: torch.Tensor) -> None:
    """Make the next `env.step` run this hand_arm command (N, action_dim)."""
    env.action_space.command = command_to_arm_and_fingers(env, command)


def p_teacher_at(iteration: int, start: float = 1.0, decay: float = 0.999) -> float:
    """DAgger's probability of executing the teacher's command in `iteration` (0-based)."""
    return start * decay**iteration
