"""Finger targets held back before they send the fingers through each other: the hand's forward kinematics
against MuJoCo's, the guard on constructed targets, and the guard in the grasp task."""

import mujoco
import numpy as np
import pytest
import torch

from assets.leap_hand import LEAP_HAND
from assets.objects import object_set
from assets.orca_hand import ORCA_HAND
from isaac_tasks import make_env
from isaac_tasks.finger_guard import FingerTargetGuard
from isaac_tasks.grasp.scene import grasp_scene
from isaac_tasks.math import quat_apply_inverse, quat_mul, quat_conjugate

LIMIT = 0.002


def guard_of(hand):
    return FingerTargetGuard(grasp_scene(hand, object_set()[0], 0.01).compile(), hand, LIMIT)


def random_targets(hand, n, seed=0):
    low, high = hand.joint_limits.T
    return torch.tensor(np.random.default_rng(seed).uniform(low, high, (n, len(low))), dtype=torch.float32)


@pytest.mark.parametrize("hand", [LEAP_HAND, ORCA_HAND], ids=lambda h: h.name)
def test_link_poses_are_mujocos(hand):
    """Every link's pose relative to the first (the palm) equals mj_kinematics' for random joint angles."""
    guard = guard_of(hand)
    model = grasp_scene(hand, object_set()[0], 0.01).compile()
    data = mujoco.MjData(model)
    ids = [model.body(name).id for name in guard.overlap.bodies]
    adr = [model.jnt_qposadr[model.joint(name).id] for name in hand.joint_names]
    angles = random_targets(hand, 32)
    pos, quat = guard.kinematics(angles)
    for k, q in enumerate(angles.double().numpy()):
        data.qpos[:] = model.qpos0
        data.qpos[adr] = q
        mujoco.mj_kinematics(model, data)
        root_pos, root_quat = (torch.tensor(x[ids[0]]) for x in (data.xpos, data.xquat))
        expected_pos = quat_apply_inverse(root_quat.expand(len(ids), 4), torch.tensor(data.xpos[ids]) - root_pos)
        expected_quat = quat_mul(quat_conjugate(root_quat).expand(len(ids), 4), torch.tensor(data.xquat[ids]))
        got_pos = quat_apply_inverse(quat[k, :1].double().expand(len(ids), 4), (pos[k] - pos[k, :1]).double())
        got_quat = quat_mul(quat_conjugate(quat[k, :1].double()).expand(len(ids), 4), quat[k].double())
        torch.testing.assert_close(got_pos, expected_pos, atol=1e-6, rtol=0)
        sign = torch.sign((got_quat * expected_quat).sum(-1, keepdim=True))  # q and -q are one rotation
        torch.testing.assert_close(got_quat * sign, expected_quat, atol=1e-6, rtol=0)


@pytest.mark.parametrize("hand", [LEAP_HAND, ORCA_HAND], ids=lambda h: h.name)
def test_crossing_targets_are_held_back_and_others_pass(hand):
    guard = guard_of(hand)
    last = torch.zeros(256, hand.num_joints).clamp(*torch.tensor(hand.joint_limits, dtype=torch.float32).T)
    assert (guard.depth(last) <= LIMIT).all()  # the open hand, where every episode starts
    targets = random_targets(hand, 256, seed=1)
    crossing = guard.depth(targets) > LIMIT
    assert 0.1 < crossing.float().mean() < 0.9  # both kinds among random targets
    held = guard(targets, last)
    assert torch.equal(held[~crossing], targets[~crossing])
    assert (guard.depth(held) <= LIMIT).all()
    # each held target lies on the way from the last targets to the new ones, at 1/2, 1/4, 1/8 or 0 of it
    fraction = ((held - last)[crossing] / (targets - last)[crossing]).nan_to_num(0.0)
    spread = fraction.max(dim=1).values - fraction.min(dim=1).values
    assert spread.max() < 1e-5
    assert set(fraction.max(dim=1).values.mul(8).round().int().tolist()) <= {0, 1, 2, 4}


def test_a_grasp_task_with_the_guard_never_sends_crossed_fingers():
    """Absolute joint actions that close every finger fully, thumb included, are sent only as far as the fingers
    stay apart; without the guard they are sent as asked."""
    depths = {}
    for limit in (0.0, LIMIT):
        env = make_env("Leap-Grasp-v0", num_envs=4, action_space="abs_joint", finger_guard=limit)
        env.reset()
        actions = torch.zeros(4, env.num_actions)
        for _ in range(10):
            actions[:, 6:] = 1.0  # every finger joint at its upper limit
            env.step(actions)
        depths[limit] = guard_of(LEAP_HAND).depth(env.finger_targets)
    assert (depths[0.0] > 0.01).all() and (depths[LIMIT] <= LIMIT).all()
    assert env.action_settings()["finger_guard"] == LIMIT  # a checkpoint records it, so its replay guards too
