"""`Orca-Grasp-v0`: the ORCA hand on a Franka arm grasps and lifts the 12 objects of `Leap-Grasp-v0`.

The grasping task as it is (reward, success, disturbances, action spaces, priors, scripted demonstrator) with
the ORCA hand (assets/orca_hand.py) mounted where the LEAP hand's palm is. The ORCA hand's 17 joints (its
wrist and 16 finger joints) are the "finger" joints of the action spaces.
"""

from __future__ import annotations

from dataclasses import dataclass

from assets.orca_hand import ORCA_HAND
from isaac_tasks.grasp.agents import rsl_rl_ppo_cfg
from isaac_tasks.grasp.grasp_env import GraspEnv
from isaac_tasks.grasp.grasp_env_cfg import GraspEnvCfg


@dataclass(kw_only=True)
class OrcaGraspEnvCfg(GraspEnvCfg):
    # The published ORCA model's rate (its servos are tuned for it), 6 substeps: 20 Hz control as with LEAP.
    sim_dt: float = 1.0 / 120.0
    decimation: int = 6


class OrcaGraspEnv(GraspEnv):
    hand = ORCA_HAND


def ppo_runner_cfg() -> dict:
    return rsl_rl_ppo_cfg.ppo_runner_cfg("orca_grasp")
