"""Per-step penetration depths of the grasping task, for evaluations (paper 000, A.2.3)."""

from __future__ import annotations

import mujoco
import numpy as np
import torch

from isaac_tasks.evaluation.penetration import PenetrationMeter
from isaac_tasks.grasp.scene import OBJECT_BODY, grasp_scene


def grasp_penetration(env):
    """A function of `env` giving (N,) finger-finger and hand-object depths (m) of its current state, one
    meter per object."""
    hand = env.hand
    meters = [
        PenetrationMeter(grasp_scene(hand, obj, env.cfg.sim_dt), hand.link_groups, OBJECT_BODY, hand.overlap_exclude)
        for obj in env.objects
    ]
    model = meters[0].model
    joints = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name) for name in env.physics.queries.joints]
    joint_adr = model.jnt_qposadr[joints]
    object_adr = model.jnt_qposadr[model.body_jntadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, OBJECT_BODY)]]
    index = env.object_index.cpu().numpy()

    def per_step(env) -> dict[str, torch.Tensor]:
        s = env.physics.state
        qpos = np.zeros((env.num_envs, model.nq))
        qpos[:, joint_adr] = s.joint_pos.cpu().numpy()
        qpos[:, object_adr : object_adr + 3] = s.body_pos[:, 0].cpu().numpy()
        qpos[:, object_adr + 3 : object_adr + 7] = s.body_quat[:, 0].cpu().numpy()
        hand_hand, hand_object = np.zeros(env.num_envs), np.zeros(env.num_envs)
        for k, meter in enumerate(meters):
            rows = index == k
            if rows.any():
                depth = meter.measure(qpos[rows])
                hand_hand[rows], hand_object[rows] = depth.hand_hand, depth.hand_object
        return {
            "penetration_hand_hand": torch.from_numpy(hand_hand),
            "penetration_hand_object": torch.from_numpy(hand_object),
        }

    return per_step
