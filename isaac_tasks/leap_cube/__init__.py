"""`Leap-Cube-Rotate-v0`: the LEAP hand, palm down, spins a cube about the vertical axis.

The ORCA task of paper 003 (platform, command, Table III rewards, randomization) with the LEAP hand
(assets/leap_hand.py). The cube is scaled with the hand: the LEAP hand is 1/0.73 times the ORCA hand's size
(`grasp_scale`, palm to straight middle fingertip), so the 45 mm cube becomes 60 mm, at the same density
(142 g), and sits 4 cm (not 3 cm) towards the fingers from the palm centre, on a platform scaled with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from assets.leap_hand import LEAP_HAND
from isaac_tasks.cube_rotate.agents import rsl_rl_ppo_cfg
from isaac_tasks.cube_rotate.cube_env import CubeRotateEnv
from isaac_tasks.cube_rotate.cube_env_cfg import CubeRotateEnvCfg


@dataclass(kw_only=True)
class LeapCubeEnvCfg(CubeRotateEnvCfg):
    cube_size: float = 0.06  # m
    cube_mass: float = 0.142  # kg: the ORCA cube's density, 60 g / (45 mm)^3
    cube_xy: tuple[float, float] = (0.04, 0.0)


class LeapCubeEnv(CubeRotateEnv):
    hand = LEAP_HAND


def ppo_runner_cfg() -> dict:
    return rsl_rl_ppo_cfg.ppo_runner_cfg("leap_cube_rotate")
