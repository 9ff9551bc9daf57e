"""The project's tasks as Isaac Lab tasks (Python 3.12 venv with the `isaaclab` extra; docs/isaaclab.md).

Importing this module registers every task of `isaac_tasks.TASKS` with gymnasium under an Isaac Lab id
(`Leap-Grasp-v0` -> `Isaac-Leap-Grasp-Direct-v0`) with the entry points Isaac Lab's command line reads; the
project's pyproject names it in the `isaaclab.tasks` entry-point group, so that `isaaclab list_envs`, `train` and
`play` find the tasks. Isaac Lab itself loads only when an entry point is used.
"""

from __future__ import annotations

from functools import partial

import gymnasium as gym

from isaac_tasks import TASKS


def isaaclab_id(task: str) -> str:
    return f"Isaac-{task.removesuffix('-v0')}-Direct-v0"


def _env_cfg(task: str):
    from isaac_tasks.isaaclab_env.task_env import env_cfg

    return env_cfg(task)


def _rsl_rl_cfg(task: str):
    from isaac_tasks.isaaclab_env.task_env import rsl_rl_cfg

    return rsl_rl_cfg(task)


for _task in TASKS:
    _name = _task.replace("-", "_")
    # module attributes, so that the entry points read "module:attribute" as Isaac Lab's own do
    globals()[f"{_name}_env_cfg"] = partial(_env_cfg, _task)
    globals()[f"{_name}_rsl_rl_cfg"] = partial(_rsl_rl_cfg, _task)
    gym.register(
        id=isaaclab_id(_task),
        entry_point="isaac_tasks.isaaclab_env.task_env:TaskEnv",
        disable_env_checker=True,
        kwargs={
            "env_cfg_entry_point": f"{__name__}:{_name}_env_cfg",
            "rsl_rl_cfg_entry_point": f"{__name__}:{_name}_rsl_rl_cfg",
            "default_agent": "rsl_rl",
        },
    )
