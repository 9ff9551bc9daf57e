"""A scripted, contact-free second of `Leap-Grasp-v0` physics that every backend must reproduce: the arm and fingers
follow sinusoidal joint targets (arm ±0.1 rad, fingers ±0.3 rad, 1 Hz) while each environment's object rests on the
table out of the hand's reach. `python tests/backend_reference.py` records it with the embedded backend (MuJoCo 4.0,
Python 3.11) into tests/golden/backend_reference.json; tests/test_isaaclab.py compares Isaac Lab against it in the
Python 3.12 venv, and tests/test_backend_reference.py keeps the recording current."""

from __future__ import annotations

import json
import math
import os

import torch

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "backend_reference.json")
NUM_ENVS = 12  # every object of the grasp set once
SECONDS = 1.0


def make_reference_env(backend: str):
    from isaac_tasks import make_env

    return make_env(
        "Leap-Grasp-v0",
        num_envs=NUM_ENVS,
        backend=backend,
        action_space="rel_joint",
        disturbance_scale=0.0,
        num_threads=1,
    )


def scripted_motion(env, start: torch.Tensor) -> dict:
    """Joint positions and object heights after each control step of the scripted second, from joints `start`."""
    physics = env.physics
    far = torch.tensor([0.5, 0.35, 0.0]).repeat(NUM_ENVS, 1)  # on the table, out of the hand's reach
    # dropped from 2 mm: MuJoCo 3.12 finds a deep false contact for a cylinder placed exactly on the table
    far[:, 2] = env.object_rest_height.cpu() + 0.002
    upright = torch.tensor([0.989, 0.0, 0.0, 0.149]).repeat(NUM_ENVS, 1)  # a yaw of 0.3 rad
    physics.reset_envs(torch.arange(NUM_ENVS), start, torch.zeros_like(start), {"object": (far, upright)})
    amplitude = torch.full((start.shape[1],), 0.3)
    amplitude[:7] = 0.1  # the arm: the hand stays clear of the table and the objects
    limits = physics.joint_limits.cpu()
    joints, heights, contacts = [], [], []
    for k in range(round(SECONDS / env.step_dt)):
        target = (start + amplitude * math.sin(2 * math.pi * (k + 1) * env.step_dt)).clamp(limits[:, 0], limits[:, 1])
        physics.set_joint_position_target(target)
        physics.step(env.cfg.decimation)
        joints.append(physics.state.joint_pos.cpu().tolist())
        heights.append(physics.state.body_pos[:, 0, 2].cpu().tolist())
        contacts.append(bool(physics.state.in_contact.any()))
    return {"start": start.tolist(), "joint_pos": joints, "object_height": heights, "any_contact": any(contacts)}


def record() -> dict:
    env = make_reference_env("mujoco")
    return scripted_motion(env, env.physics.state.joint_pos.clone())


if __name__ == "__main__":
    rounded = {
        key: torch.tensor(value).double().round(decimals=6).tolist() if key != "any_contact" else value
        for key, value in record().items()
    }
    with open(GOLDEN, "w") as f:
        json.dump(rounded, f)
    print(f"wrote {GOLDEN}")
