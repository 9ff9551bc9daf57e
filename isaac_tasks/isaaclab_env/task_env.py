"""A project task as an Isaac Lab `DirectRLEnv`: the task itself (config, action space, rewards, resets, observations)
runs on the isaaclab physics backend and its own step loop; this class speaks Isaac Lab's interface for it.

`DirectRLEnv.__init__` is not run: it would build a second simulation beside the one the task's backend builds
from the task's MJCF. The attributes Isaac Lab's wrappers and runners read (`sim`, `scene`, `cfg`, spaces,
`obs_buf`, `episode_length_buf`, `max_episode_length`) are the task's.
"""

from __future__ import annotations

import math

import gymnasium as gym
import torch
from isaaclab.envs import DirectRLEnv, DirectRLEnvCfg
from isaaclab.scene import InteractiveSceneCfg
from isaaclab.sim import SimulationCfg
from isaaclab.utils import configclass
from isaaclab_newton.physics import MJWarpSolverCfg, NewtonCfg
from isaaclab_rl.rsl_rl import RslRlMLPModelCfg, RslRlOnPolicyRunnerCfg, RslRlPpoAlgorithmCfg

from isaac_tasks import make_agent_cfg, make_env, make_env_cfg
from isaac_tasks.overrides import dataclass_override


@configclass
class TaskEnvCfg(DirectRLEnvCfg):
    task: str = ""
    """The project's task id (isaac_tasks.TASKS)."""
    task_overrides: str = ""
    """Settings of the task's own config, `KEY=VALUE` separated by spaces as the project's `--env` takes them:
    `env.task_overrides="grasp_type=pinch rewards.lift=2.0"`."""
    # Physics options (time step, solver, cones) come from the task's MJCF; these carry the device and sizes that
    # Isaac Lab's command line sets.
    sim: SimulationCfg = SimulationCfg(device="cpu", physics=NewtonCfg(solver_cfg=MJWarpSolverCfg()))
    scene: InteractiveSceneCfg = InteractiveSceneCfg(num_envs=256, env_spacing=2.0)
    decimation: int = 5
    episode_length_s: float = 8.0
    action_space: int = 0
    observation_space: int = 0
    state_space: int = 0


def env_cfg(task: str) -> TaskEnvCfg:
    """Isaac Lab's config of `task`, its step and episode length the task's."""
    own = make_env_cfg(task)
    cfg = TaskEnvCfg(task=task, decimation=own.decimation, episode_length_s=own.episode_length_s, seed=own.seed)
    cfg.sim.dt = own.sim_dt
    return cfg


def rsl_rl_cfg(task: str) -> RslRlOnPolicyRunnerCfg:
    """The task's PPO runner config (the project's, `make_agent_cfg`) in Isaac Lab's config classes."""
    agent = make_agent_cfg(task)

    def model(spec: dict) -> RslRlMLPModelCfg:
        spec = {key: value for key, value in spec.items() if key != "class_name"}
        distribution = spec.pop("distribution_cfg", None)
        if distribution is not None:
            distribution = RslRlMLPModelCfg.GaussianDistributionCfg(
                **{key: value for key, value in distribution.items() if key != "class_name"}
            )
        return RslRlMLPModelCfg(distribution_cfg=distribution, **spec)

    return RslRlOnPolicyRunnerCfg(
        num_steps_per_env=agent["num_steps_per_env"],
        max_iterations=agent["max_iterations"],
        save_interval=agent["save_interval"],
        experiment_name=agent["experiment_name"],
        empirical_normalization=False,
        obs_groups=agent["obs_groups"],
        actor=model(agent["actor"]),
        critic=model(agent["critic"]),
        algorithm=RslRlPpoAlgorithmCfg(**{k: v for k, v in agent["algorithm"].items() if k != "class_name"}),
    )


class TaskEnv(DirectRLEnv):
    cfg: TaskEnvCfg

    def __init__(self, cfg: TaskEnvCfg, render_mode: str | None = None, **kwargs):
        self._is_closed = True
        self.cfg, self.render_mode = cfg, render_mode
        default = make_env_cfg(cfg.task)
        settings = dict(dataclass_override(default, text, "env.task_overrides") for text in cfg.task_overrides.split())
        settings.update(backend="isaaclab", num_envs=cfg.scene.num_envs, device=cfg.sim.device)
        if cfg.seed is not None:
            settings["seed"] = cfg.seed
        self.task = make_env(cfg.task, **settings)
        physics = self.task.physics
        self.sim, self.scene = physics.sim, physics.scene
        self.single_action_space = gym.spaces.Box(-math.inf, math.inf, (self.task.num_actions,))
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.obs_buf = dict(self.task.get_observations().items())
        self.single_observation_space = gym.spaces.Dict(
            {name: gym.spaces.Box(-math.inf, math.inf, tuple(value.shape[1:])) for name, value in self.obs_buf.items()}
        )
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.extras = {}
        self._is_closed = False

    @property
    def max_episode_length(self) -> int:
        return self.task.max_episode_length  # in policy decisions, where an action space executes chunks

    @property
    def episode_length_buf(self) -> torch.Tensor:
        return self.task.episode_length_buf

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        self.task.episode_length_buf = value

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.seed(seed)
        self.obs_buf = dict(self.task.reset().items())
        return self.obs_buf, self.extras

    def step(self, action: torch.Tensor):
        obs, reward, dones, self.extras = self.task.step(action.to(self.device))
        time_outs = self.extras["time_outs"]
        self.obs_buf = dict(obs.items())
        return self.obs_buf, reward, dones & ~time_outs, time_outs, self.extras

    def render(self, recompute: bool = False):
        raise NotImplementedError(
            "TaskEnv renders no frames through Isaac Lab: record videos with the project's tools/play.py --video"
        )

    def close(self) -> None:
        if not self._is_closed:
            self.task.physics.close()
            self._is_closed = True
