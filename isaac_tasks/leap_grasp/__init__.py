"""`Leap-Grasp-v0`: the LEAP hand on a Franka arm grasps and lifts each of 12 objects (paper 000)."""

from __future__ import annotations

from assets.leap_hand import LEAP_HAND
from isaac_tasks.grasp.agents import rsl_rl_ppo_cfg
from isaac_tasks.grasp.grasp_env import GraspEnv


class LeapGraspEnv(GraspEnv):
    hand = LEAP_HAND


def ppo_runner_cfg() -> dict:
    return rsl_rl_ppo_cfg.ppo_runner_cfg("leap_grasp")
