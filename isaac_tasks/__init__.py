"""Task registry: Isaac Lab-style ids mapped to an environment class, its config and its agent config."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Callable


@dataclass(frozen=True)
class TaskEntry:
    env_class: str  # "module:Class"
    env_cfg_class: str
    agent_cfg: str  # "module:function" returning the rsl-rl runner config dict
    # "module:function" of (env, generator=None) returning the task's scripted demonstrator, if any: a policy
    # (obs -> actions) with `reset(env_ids)`, `command()` (the demonstration-format action), `actions(command)`
    # and a dataclass `cfg`
    scripted_policy: str = ""
    scripted_env: tuple[tuple[str, object], ...] = ()  # the config settings the demonstrator acts in
    demo_env: tuple[tuple[str, object], ...] = ()  # and those of demonstration episodes on top of them
    # "module:Class" of the task's side of its flow priors (agents/prior_data.py PriorIO), made of (env config, number
    # of finger joints)
    prior_io: str = ""


_GRASPING = dict(
    scripted_policy="isaac_tasks.grasp.scripted_grasp:scripted_policy",
    scripted_env=(("action_space", "abs_joint"),),
    demo_env=(("terminate_on_success", True),),  # a demonstration ends where its grasp succeeds
    prior_io="isaac_tasks.grasp.prior:GraspPriorIO",
)
# A task id is a hand with a task: its folder (isaac_tasks/<id>/) names the hand, the task package does the rest.
TASKS: dict[str, TaskEntry] = {
    "Leap-Grasp-v0": TaskEntry(
        env_class="isaac_tasks.leap_grasp:LeapGraspEnv",
        env_cfg_class="isaac_tasks.grasp.grasp_env_cfg:GraspEnvCfg",
        agent_cfg="isaac_tasks.leap_grasp:ppo_runner_cfg",
        **_GRASPING,
    ),
    "Orca-Grasp-v0": TaskEntry(
        env_class="isaac_tasks.orca_grasp:OrcaGraspEnv",
        env_cfg_class="isaac_tasks.orca_grasp:OrcaGraspEnvCfg",
        agent_cfg="isaac_tasks.orca_grasp:ppo_runner_cfg",
        **_GRASPING,
    ),
    "Orca-Cube-Rotate-v0": TaskEntry(
        env_class="isaac_tasks.orca_cube:OrcaCubeEnv",
        env_cfg_class="isaac_tasks.cube_rotate.cube_env_cfg:CubeRotateEnvCfg",
        agent_cfg="isaac_tasks.orca_cube:ppo_runner_cfg",
    ),
    "Leap-Cube-Rotate-v0": TaskEntry(
        env_class="isaac_tasks.leap_cube:LeapCubeEnv",
        env_cfg_class="isaac_tasks.leap_cube:LeapCubeEnvCfg",
        agent_cfg="isaac_tasks.leap_cube:ppo_runner_cfg",
    ),
}


def load_entry_point(path: str) -> Callable:
    """The object named by "module:name"."""
    module, name = path.split(":")
    return getattr(import_module(module), name)


def task_entry(task: str) -> TaskEntry:
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; valid tasks: {', '.join(TASKS)}")
    return TASKS[task]


def make_env_cfg(task: str, **overrides):
    """The task's environment config with `overrides` applied (unknown keys are an error); a dotted key
    such as `rewards.lift` sets a nested setting."""
    cfg = load_entry_point(task_entry(task).env_cfg_class)()
    for key, value in overrides.items():
        *parents, name = key.split(".")
        node = cfg
        for part in parents:
            node = getattr(node, part, None)
        if node is None or not hasattr(node, name):
            raise ValueError(f"task '{task}' has no setting '{key}'")
        setattr(node, name, value)
    cfg.task_id = task
    cfg.validate()
    return cfg


def make_env(task: str, **overrides):
    """The task's environment; wrapped so that one step is one decision when its action space chunks."""
    env = load_entry_point(task_entry(task).env_class)(make_env_cfg(task, **overrides))
    if getattr(getattr(env, "action_space", None), "chunk_length", 1) > 1:
        from isaac_tasks.chunked_env import ChunkedEnv

        return ChunkedEnv(env)
    return env


def make_agent_cfg(task: str) -> dict:
    return load_entry_point(task_entry(task).agent_cfg)()


def env_class(task: str) -> type:
    """The task's environment class: its class attributes describe the task (action_spaces, demo_format, ...)."""
    return load_entry_point(task_entry(task).env_class)


def make_prior_io(task: str, **overrides):
    """The task's side of its flow priors (agents/prior_data.py PriorIO) for its config with `overrides`."""
    entry = task_entry(task)
    if not entry.prior_io:
        raise ValueError(f"task '{task}' has no flow priors")
    return load_entry_point(entry.prior_io)(make_env_cfg(task, **overrides), env_class(task).num_finger_joints)
