"""The grasping task with either hand (Leap-Grasp-v0, Orca-Grasp-v0): resets, reward terms, success detection
and stability on the real physics."""

import dataclasses

import pytest
import torch

from isaac_tasks import make_env, make_env_cfg
from isaac_tasks.grasp import rewards
from isaac_tasks.action_spaces import action_space_class

TASKS = ("Leap-Grasp-v0", "Orca-Grasp-v0")


@pytest.fixture(scope="module", params=TASKS)
def grasp_env(request):
    return make_env(request.param, num_envs=24, seed=3)


def test_reset_distributions_within_ranges(grasp_env):
    env, cfg = grasp_env, grasp_env.cfg
    env.reset()
    s = env.physics.state
    obj = s.body_pos[:, 0]
    assert ((obj[:, 0] >= cfg.object_x_range[0]) & (obj[:, 0] <= cfg.object_x_range[1])).all()
    assert ((obj[:, 1] >= cfg.object_y_range[0]) & (obj[:, 1] <= cfg.object_y_range[1])).all()
    torch.testing.assert_close(obj[:, 2], env.object_rest_height + 0.001)
    arm = s.joint_pos[:, :7]
    home = torch.tensor(cfg.arm_home_pose)
    assert ((arm - home).abs() <= cfg.arm_init_noise + 1e-5).all()
    assert arm.std(dim=0).min() > 0.02  # really random
    torch.testing.assert_close(env.target_pos[:, 2], obj[:, 2] + cfg.target_lift_height)
    low, high = cfg.disturbance_interval
    assert ((env.disturbance_timer >= low) & (env.disturbance_timer <= high)).all()


def test_reward_terms_sign_on_constructed_states():
    obj = torch.zeros(2, 3)
    near, far = torch.tensor([0.0, 0.0, 0.03]), torch.tensor([0.0, 0.0, 0.3])
    assert (rewards.palm_proximity(torch.stack((near, far)), obj).diff() < 0).all()
    tips = torch.stack((near.expand(4, 3), far.expand(4, 3)))
    assert (rewards.fingertip_proximity(tips, obj).diff() < 0).all()
    yes = torch.tensor([True, False])
    assert rewards.grasp_contact(yes, yes).tolist() == [1.0, 0.0]
    assert rewards.grasp_contact(torch.tensor([True]), torch.tensor([False])).item() == 0.5
    heights = torch.tensor([0.1, 0.1, 0.3])
    lift = rewards.lift(heights, torch.tensor([True, False, True]), 0.25)
    torch.testing.assert_close(lift, torch.tensor([0.4, 0.0, 1.0]))
    torch.testing.assert_close(rewards.excessive_lift(torch.tensor([0.3, 0.5]), 0.4), torch.tensor([0.0, 0.1]))
    limits = torch.tensor([[-1.0, 1.0]])
    assert rewards.joint_limit(torch.tensor([[0.0], [0.99]]), limits, 0.9)[0] == 0
    assert rewards.joint_limit(torch.tensor([[0.99]]), limits, 0.9)[0] > 0
    w = make_env_cfg("Leap-Grasp-v0").rewards
    for name, weight in dataclasses.asdict(w).items():
        assert (weight < 0) == (name in ("excessive_lift", "joint_limit")), name


def _force_state(env, height, grasped):
    """Overwrite the physics snapshot: object at `height` above rest, in or out of the grasp."""
    s = env.physics.state
    s.body_pos[:, 0, 2] = env.object_rest_height + height
    s.in_contact[:] = grasped
    s.joint_pos[:, :7] = torch.tensor(env.cfg.arm_home_pose)


def _update(env) -> dict:
    """The task's state update and reward terms of the forced state, as a step runs them."""
    env._update_state()
    return env._reward_terms()


def test_success_for_a_held_lift_and_not_for_a_drop(grasp_env):
    env = grasp_env
    env.reset()
    hold = env.cfg.success_hold_steps
    for _ in range(hold - 1):
        _force_state(env, 0.22, True)
        _update(env)
    assert not env.success.any()
    _force_state(env, 0.22, True)
    terms = _update(env)
    assert env.success.all() and (terms["success"] > 0).all()
    # the episode goes on, the success stays latched and its bonus is paid once
    assert not env._get_dones()[0].any()
    _force_state(env, 0.02, False)
    terms = _update(env)
    assert env.success.all() and (terms["success"] == 0).all()
    env.cfg.terminate_on_success = True  # as the demonstration tools set it: the success ends the episode
    try:
        assert env._get_dones()[0].all()
    finally:
        env.cfg.terminate_on_success = False

    env.reset()
    for height, grasped in [(0.22, True)] * (hold - 2) + [(0.22, False), (0.02, False)] + [(0.22, True)] * 2:
        _force_state(env, height, grasped)
        _update(env)
    assert not env.success.any()  # dropped before holding long enough
    _force_state(env, 0.22, True)
    _update(env)
    assert not env.success.any()


def test_infeasible_arm_pose_is_no_success(grasp_env):
    env = grasp_env
    env.reset()
    for _ in range(env.cfg.success_hold_steps + 1):
        _force_state(env, 0.3, True)
        env.physics.state.joint_pos[:, 3] = env.arm_limits[3, 1]  # elbow at its limit
        _update(env)
    assert not env.success.any()


def test_action_spaces_give_valid_finger_targets(grasp_env):
    env = grasp_env
    for name in ("abs_joint", "rel_joint"):
        space = action_space_class(env.action_spaces, name)(env)
        assert space.num_actions == 6 + len(env.hand.joint_names), name
        arm, fingers = space(10 * torch.randn(env.num_envs, space.num_actions))
        assert arm.abs().max() <= 1.0
        assert (fingers >= env.finger_limits[:, 0] - 1e-6).all() and (fingers <= env.finger_limits[:, 1] + 1e-6).all()


@pytest.mark.parametrize("task", TASKS)
def test_stable_under_random_actions(task):
    env = make_env(task, num_envs=16, seed=1, arm_disturbance_torque=5.0)
    generator = torch.Generator().manual_seed(0)
    episodes = 0
    for _ in range(2000):
        obs, reward, dones, _ = env.step(2 * torch.rand(16, env.num_actions, generator=generator) - 1)
        assert torch.isfinite(reward).all()
        episodes += int(dones.sum())
    assert all(torch.isfinite(v).all() for v in obs.values())
    assert episodes >= 16 * (2000 // env.max_episode_length)  # every episode ends, by time-out at the latest
    assert env.diverged_resets == 0


def test_a_diverged_environment_is_reset_counted_and_scores_nothing():
    import numpy as np

    env = make_env("Leap-Grasp-v0", num_envs=3, seed=0)
    env.physics._qvel[1, 0] = np.nan
    obs, reward, dones, extras = env.step(torch.zeros(3, env.num_actions))
    assert dones.tolist() == [False, True, False] and not extras["time_outs"][1]
    assert reward[1] == 0 and torch.isfinite(reward).all()
    assert env.diverged_resets == 1 and extras["log"]["Metrics/diverged_resets"] == 1.0
    assert all(torch.isfinite(v).all() for k, v in extras["log"].items() if isinstance(v, torch.Tensor))
    assert all(torch.isfinite(v).all() for v in obs.values())
    assert env.episode_length_buf[1] == 0  # reset to a new episode


@pytest.mark.parametrize("task", TASKS)
def test_palm_reaches_every_commanded_pose_over_the_table(task):
    """The arm's servos and the differential IK bring the palm to a palm-down pose at any wrist yaw
    (before the arm's damping was lightened, the wrist could not turn and the palm drifted away)."""
    from isaac_tasks.math import axis_angle_from_quat, quat_conjugate, quat_from_yaw, quat_mul

    env = make_env(task, num_envs=16, seed=0, action_space="abs_joint", disturbance_scale=1.0)
    env.reset()
    n = env.num_envs
    target_quat = quat_mul(quat_from_yaw(torch.linspace(-1.5, 1.5, n)), torch.tensor([0.0, 1.0, 0.0, 0.0]).expand(n, 4))
    low, high = env.finger_limits.unbind(-1)
    fingers_open = (2 * (0 - low) / (high - low) - 1).expand(n, -1)  # every hand joint at 0 (ORCA's wrist straight)
    for _ in range(60):
        s = env.physics.state
        target = env.object_start_pos + torch.tensor([0.0, 0.0, 0.15])
        position = (target - s.site_pos[:, 0]) / env.cfg.arm_translation_limit
        rotation_error = axis_angle_from_quat(quat_mul(target_quat, quat_conjugate(s.site_quat[:, 0])))
        rotation = rotation_error / env.cfg.arm_rotation_limit
        env.step(torch.cat((position.clamp(-1, 1), rotation.clamp(-1, 1), fingers_open), dim=-1))
    assert (target - s.site_pos[:, 0]).norm(dim=-1).max() < 0.02
    # the ORCA palm hangs on its wrist servo (2 N m/rad) under its fingers' weight and the disturbances
    assert rotation_error.norm(dim=-1).max() < (0.1 if task == "Orca-Grasp-v0" else 0.05)
