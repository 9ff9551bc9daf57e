"""Base of every task: the rsl-rl `VecEnv` step loop, written once against the physics interface.

A task subclass provides `_apply_action`, `_update_state`, `_get_dones`, `_reward_terms`, `_reset_idx` and
`_get_observations`; this class runs them in Isaac Lab's order each control step:

    action -> task (targets) -> physics (decimation substeps) -> task state -> dones -> rewards -> resets
    -> observations

Reward terms come unweighted; each is weighted by the config's `rewards.<term name>`. Ended episodes are
logged, their last observation kept in `extras["final_obs"]` (what an off-policy learner bootstraps a
time-out from), and their environments reset: the base clears its own buffers (episode length, reward
sums), the task samples the new episode.
"""

from __future__ import annotations

import math
import re
from abc import abstractmethod
from dataclasses import dataclass

import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from isaac_tasks.physics import BACKENDS
from isaac_tasks.physics.interface import PhysicsBackend


MAX_ENVS = 2**24


@dataclass(kw_only=True)
class BaseEnvCfg:
    task_id: str = ""
    """The task's registry id; set by `isaac_tasks.make_env_cfg`."""
    num_envs: int = 256
    seed: int = 0
    backend: str = "mujoco"
    """Physics backend, one of `isaac_tasks.physics.BACKENDS`."""
    device: str = "cpu"
    """Device of the simulation and the task tensors ("cuda:0" with the mujoco_warp backend)."""
    sim_dt: float = 0.01
    """Physics step in seconds."""
    decimation: int = 5
    """Physics steps per control step."""
    episode_length_s: float = 8.0
    num_threads: int = 0
    """Physics threads; 0 uses every CPU core."""
    disturbance_interval: tuple[int, int] = (2, 5)
    """Control steps between random joint torques, drawn per environment."""
    disturbance_scale: float = 1.0
    """Factor on the task's nominal disturbance torques (0: none); robustness evaluation sweeps it."""

    def validate(self) -> None:
        if not 1 <= self.num_envs <= MAX_ENVS:  # the physics backends check the memory of what passes
            raise ValueError(f"num_envs must be between 1 and {MAX_ENVS}, got {self.num_envs}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown physics backend '{self.backend}'; available: {', '.join(BACKENDS)}")
        if self.device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", self.device):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got '{self.device}'")
        if self.sim_dt <= 0 or self.decimation < 1 or self.episode_length_s <= 0:
            raise ValueError("sim_dt and episode_length_s must be positive and decimation at least 1")
        if self.num_threads < 0:
            raise ValueError(f"num_threads must be non-negative, got {self.num_threads}")
        low, high = self.disturbance_interval
        if not 1 <= low <= high:
            raise ValueError(f"disturbance_interval must be (low, high) with 1 <= low <= high, got {(low, high)}")
        if self.disturbance_scale < 0:
            raise ValueError(f"disturbance_scale must be non-negative, got {self.disturbance_scale}")


class BaseEnv(VecEnv):
    cfg: BaseEnvCfg
    video_cameras: dict[str, dict] = {}
    """Free-camera presets of videos by view name (front, side, top): lookat, distance, azimuth, elevation."""
    primary_metric: str = ""
    """The `Metrics/<name>` an evaluation ranks policies by (and sweeps robustness on)."""
    action_spaces: dict[str, str] = {}
    """The task's action spaces by name, "module:Class" (isaac_tasks/action_spaces.py); none: the task's own."""
    action_keys: tuple[str, ...] = ()
    """The config settings that give the task's own actions their meaning (with its action space's `settings`,
    what a checkpoint records and replays: `action_settings`)."""
    comparison_split: tuple[str, tuple[str, ...]] | None = None
    """A config setting and its values, each trained on its own in a comparison (the paper's pinch and power
    policies), or None."""
    episode_splits: dict[str, tuple[str, ...]] = {}
    """Named partitions of episodes (grasp family, object) with their labels; `split_of` places episodes."""

    def action_settings(self) -> dict:
        """The config settings, by name, that a policy of this environment needs again to act the same."""
        keys = (*self.action_keys, *getattr(getattr(self, "action_space", None), "settings", ()))
        return {key: getattr(self.cfg, key) for key in keys}

    def __init__(self, cfg: BaseEnvCfg, physics: PhysicsBackend):
        self.cfg = cfg
        self.physics = physics
        self.num_envs = physics.num_envs
        self.device = physics.device
        self.step_dt = cfg.sim_dt * cfg.decimation
        self.max_episode_length = math.ceil(cfg.episode_length_s / self.step_dt)
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.disturbance_timer = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self.diverged_resets = 0
        """Environments reset because their physics state went bad, since construction."""
        self.extras: dict = {}
        self._episode_sums: dict[str, torch.Tensor] = {}

    # --- task hooks ---------------------------------------------------------------------------
    @abstractmethod
    def _apply_action(self, actions: torch.Tensor) -> None:
        """Turn policy actions into physics commands for the coming control step."""

    def _update_state(self) -> None:
        """Task bookkeeping of the new physics state (latched success, drops, counters), before dones and
        rewards read it."""

    @abstractmethod
    def _reward_terms(self) -> dict[str, torch.Tensor]:
        """Unweighted reward terms (N,) by name; the reward is their sum, each x `cfg.rewards.<name>`."""

    @abstractmethod
    def _get_dones(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(terminated, time_out) masks."""

    @abstractmethod
    def _reset_idx(self, env_ids: torch.Tensor) -> None:
        """Sample new episodes for env_ids and write them to the physics backend."""

    @abstractmethod
    def _get_observations(self) -> TensorDict:
        """Observation groups of the current state."""

    def _disturbance_torques(self, nominal: torch.Tensor) -> torch.Tensor:
        """(N, J) random torques of up to `nominal` x disturbance_scale on every joint, nonzero for one
        control step every 2 to 5 steps (SPEC section 1) and zero in between."""
        self.disturbance_timer -= 1
        fire = self.disturbance_timer <= 0
        self.disturbance_timer[fire] = self._disturbance_interval(int(fire.sum()))
        if self.cfg.disturbance_scale == 0.0:
            return torch.zeros(self.num_envs, len(nominal), device=self.device)
        noise = 2.0 * torch.rand(self.num_envs, len(nominal), generator=self.generator, device=self.device) - 1.0
        return noise * nominal * self.cfg.disturbance_scale * fire.unsqueeze(-1)

    def _disturbance_interval(self, count: int) -> torch.Tensor:
        low, high = self.cfg.disturbance_interval
        return torch.randint(low, high + 1, (count,), generator=self.generator, device=self.device)

    def _episode_log(self, env_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """Task metrics of the episodes ending in env_ids, logged under their keys."""
        return {}

    def training_state(self) -> dict[str, float]:
        """What a resumed training run needs of the environment beyond its config (a curriculum's progress);
        checkpoints carry it."""
        return {}

    def load_training_state(self, state: dict[str, float]) -> None:
        """Continue from a checkpoint's `training_state`."""

    # --- evaluation hooks ---------------------------------------------------------------------
    def comparison_members(self, value: str) -> torch.Tensor:
        """(N,) whether each environment runs episodes of `value` of `comparison_split` (the same for its whole
        life: an environment keeps its object)."""
        raise NotImplementedError(f"{type(self).__name__} has no comparison split")

    def split_of(self, env_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """For each of `episode_splits`, the label index of the episodes now running in env_ids."""
        return {}

    def state_measures(self):
        """A function of the environment giving (N,) quantities of its current state that an evaluation
        reports per episode at their worst (penetration depths), or None."""
        return None

    # --- VecEnv -------------------------------------------------------------------------------
    def get_observations(self) -> TensorDict:
        return self._get_observations()

    def reset(self) -> TensorDict:
        self._reset_envs(torch.arange(self.num_envs, device=self.device))
        return self.get_observations()

    def _reset_envs(self, env_ids: torch.Tensor) -> None:
        self.episode_length_buf[env_ids] = 0
        for sums in self._episode_sums.values():
            sums[env_ids] = 0.0
        self._reset_idx(env_ids)

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        self._apply_action(actions.to(self.device))
        diverged = self.physics.step(self.cfg.decimation).to(self.device)
        self.episode_length_buf += 1
        self._update_state()

        terminated, time_out = self._get_dones()
        terminated = (terminated | diverged) & ~time_out
        time_out = time_out & ~diverged
        dones = terminated | time_out

        # A diverged environment ends its episode as a failure, without reward for the bad step.
        weights = self.cfg.rewards
        terms = {
            name: torch.where(diverged, 0.0, getattr(weights, name) * value)
            for name, value in self._reward_terms().items()
        }
        reward = torch.stack(list(terms.values())).sum(dim=0)
        for name, value in terms.items():
            self._episode_sums.setdefault(name, torch.zeros_like(value))
            self._episode_sums[name] += value

        self.extras = {"time_outs": time_out, "log": {}}
        reset_ids = dones.nonzero(as_tuple=False).squeeze(-1)
        if len(reset_ids) > 0:
            self.diverged_resets += int(diverged.sum())
            self.extras["final_obs"] = self._get_observations()  # the rows of reset_ids: their episodes' last
            self.extras["log"] = self._log_episodes(reset_ids)
            self.extras["log"]["Metrics/diverged_resets"] = float(diverged.sum())
            self._reset_envs(reset_ids)
        return self._get_observations(), reward, dones, self.extras

    def _log_episodes(self, env_ids: torch.Tensor) -> dict[str, torch.Tensor | float]:
        log: dict[str, torch.Tensor | float] = {}
        episode_s = self.episode_length_buf[env_ids].float() * self.step_dt
        for name, sums in self._episode_sums.items():
            # Mean reward per second of episode, as Isaac Lab logs it.
            log[f"Episode_Reward/{name}"] = sums[env_ids] / episode_s.clamp_min(self.step_dt)
        log.update(self._episode_log(env_ids))
        return log
