"""One policy decision, several control steps: the wrapper behind action-chunked action spaces.

The action space declares `chunk_length` and reads `sub_step` to pick the step of its chunk. Rewards
are summed over the chunk; an environment whose episode ends inside a chunk reports that end, gets no
reward from the steps after it (they belong to its next episode), keeps its last observation in
`extras["final_obs"]`, and restarts its chunk from the new state (`restart`). Everything else is the wrapped environment's.
"""

from __future__ import annotations

import math

import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict


class ChunkedEnv(VecEnv):
    def __init__(self, env):
        self.env = env
        self.chunk_length = env.action_space.chunk_length
        self.max_episode_length = math.ceil(env.max_episode_length / self.chunk_length)

    def __getattr__(self, name):
        return getattr(self.env, name)

    @property
    def episode_length_buf(self) -> torch.Tensor:
        """In policy decisions."""
        return self.env.episode_length_buf // self.chunk_length

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        self.env.episode_length_buf = value * self.chunk_length

    def get_observations(self) -> TensorDict:
        return self.env.get_observations()

    def reset(self) -> TensorDict:
        return self.env.reset()

    def step(self, actions: torch.Tensor):
        space = self.env.action_space
        reward = torch.zeros(self.num_envs, device=self.device)
        ended = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        time_outs = torch.zeros_like(ended)
        logs: dict[str, list] = {}
        final_obs = None  # the last observation of each episode ended inside the chunk
        for k in range(self.chunk_length):
            space.sub_step = k
            obs, step_reward, dones, extras = self.env.step(actions)
            reward += torch.where(ended, torch.zeros_like(step_reward), step_reward)
            time_outs |= extras["time_outs"] & ~ended
            if "final_obs" in extras:
                first = dones & ~ended
                final_obs = extras["final_obs"].clone() if final_obs is None else final_obs
                final_obs[first] = extras["final_obs"][first]
            ended |= dones
            for key, value in extras["log"].items():
                logs.setdefault(key, []).append(value)
            if dones.any():
                space.restart(dones.nonzero().squeeze(-1))
        log = {k: torch.cat(v) if isinstance(v[0], torch.Tensor) else sum(v) for k, v in logs.items()}
        extras = {"time_outs": time_outs, "log": log}
        if final_obs is not None:
            extras["final_obs"] = final_obs
        return obs, reward, ended, extras
