"""`Orca-Cube-Rotate-v0`: the ORCA hand, palm down, spins a 45 mm cube about the vertical axis (paper 003)."""

from __future__ import annotations

from assets.orca_hand import ORCA_HAND
from isaac_tasks.cube_rotate.agents import rsl_rl_ppo_cfg
from isaac_tasks.cube_rotate.cube_env import CubeRotateEnv


class OrcaCubeEnv(CubeRotateEnv):
    hand = ORCA_HAND


def ppo_runner_cfg() -> dict:
    return rsl_rl_ppo_cfg.ppo_runner_cfg("orca_cube_rotate")
