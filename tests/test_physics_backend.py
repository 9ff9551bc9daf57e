"""The MuJoCo backend against MuJoCo itself, on the grasping scene."""

import numpy as np
import torch

from isaac_tasks.grasp.scene import OBJECT_BODY


def test_site_jacobian_matches_mujoco(grasp_env):
    physics = grasp_env.physics
    for _ in range(3):
        grasp_env.step(2 * torch.rand(grasp_env.num_envs, grasp_env.num_actions) - 1)
    site = physics._site[0]
    jacp, jacr = physics.batch.jac(int(physics.model.site_bodyid[site]), physics._site_xpos[:, site])
    reference = np.concatenate((jacp[:, :, physics._dof_adr], jacr[:, :, physics._dof_adr]), axis=1)
    np.testing.assert_allclose(physics.site_jacobian("palm").numpy(), reference, atol=1e-5)


def test_reset_writes_state_and_targets(grasp_env):
    physics = grasp_env.physics
    ids = torch.tensor([1, 4])
    joint_pos = physics.joint_limits.mean(-1).expand(2, -1).clone()
    pos = torch.tensor([[0.5, 0.1, 0.3], [0.6, -0.1, 0.4]])
    quat = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    lin_vel = torch.tensor([[0.1, 0.0, 0.2], [0.0, -0.3, 0.0]])
    ang_vel = torch.tensor([[0.0, 0.0, 1.5], [2.0, 0.5, 0.0]])  # world frame
    physics.reset_envs(
        ids, joint_pos, torch.zeros_like(joint_pos), {OBJECT_BODY: (pos, quat)}, {OBJECT_BODY: (lin_vel, ang_vel)}
    )
    torch.testing.assert_close(physics.state.joint_pos[ids], joint_pos)
    torch.testing.assert_close(physics.state.body_lin_vel[ids, 0], lin_vel)
    torch.testing.assert_close(physics.state.body_ang_vel[ids, 0], ang_vel)
    torch.testing.assert_close(physics.state.body_pos[ids, 0], pos)
    torch.testing.assert_close(physics.state.body_quat[ids, 0].abs(), quat.abs())
    np.testing.assert_allclose(physics._ctrl[ids.numpy()][:, physics._actuator], joint_pos.numpy(), atol=1e-6)
    grasp_env.reset()


def test_per_environment_parameters_land_where_asked(grasp_env):
    physics = grasp_env.physics
    ids = torch.tensor([0, 2])
    physics.set_gravity(ids, torch.tensor([[0.0, 0.0, -5.0], [0.0, 0.0, -12.0]]))
    gravity = physics.batch.expand("opt.gravity")
    np.testing.assert_allclose(gravity[[0, 2], 2], [-5.0, -12.0])
    assert gravity[1, 2] == -9.81
    masses = physics.batch.expand("body_mass")
    body = physics._body[0]
    before = masses[:, body].copy()
    physics.scale_mass(ids, OBJECT_BODY, torch.tensor([0.5, 2.0]))
    np.testing.assert_allclose(masses[[0, 2], body], before[[0, 2]] * [0.5, 2.0])
    np.testing.assert_allclose(np.delete(masses[:, body], [0, 2]), np.delete(before, [0, 2]))
    physics.set_friction(ids, OBJECT_BODY, torch.tensor([0.3, 1.3]))
    geom = np.flatnonzero(physics.model.geom_bodyid == body)[0]
    np.testing.assert_allclose(physics.batch.expand("geom_friction")[[0, 2], geom, 0], [0.3, 1.3])
    joints = len(physics.queries.joints)
    physics.scale_joint_gains(ids, torch.full((2, joints), 2.0), torch.full((2, joints), 3.0))
    kp = physics.batch.expand("actuator_gainprm")[:, physics._actuator, 0]
    np.testing.assert_allclose(kp[2], 2 * kp[1])
    np.testing.assert_allclose(
        -physics.batch.expand("actuator_biasprm")[2, physics._actuator, 2], 3 * physics._nominal_kv
    )
    limits = physics.joint_limits.expand(2, -1, -1) * 0.9
    physics.set_joint_limits(ids, limits)
    np.testing.assert_allclose(physics.batch.expand("jnt_range")[0, physics._joint], limits[0].numpy(), rtol=1e-6)
    physics.scale_joint_gains(ids, torch.ones(2, joints), torch.ones(2, joints))
    physics.set_joint_limits(ids, physics.joint_limits.expand(2, -1, -1))
    physics.scale_mass(ids, OBJECT_BODY, torch.ones(2))
    np.testing.assert_allclose(masses[:, body], before)
    physics.set_gravity(ids, torch.tensor([[0.0, 0.0, -9.81]] * 2))


def test_gravity_per_environment_changes_the_fall():
    from isaac_tasks import make_env

    env = make_env("Leap-Grasp-v0", num_envs=2, seed=0)
    physics = env.physics
    ids = torch.arange(2)
    high = torch.tensor([[0.55, 0.3, 0.5], [0.55, -0.3, 0.5]])  # clear of the hand
    quat = torch.tensor([[1.0, 0.0, 0.0, 0.0]] * 2)
    physics.reset_envs(
        ids,
        physics.state.joint_pos.clone(),
        torch.zeros(2, physics.state.joint_pos.shape[1]),
        {OBJECT_BODY: (high, quat)},
    )
    physics.set_gravity(ids, torch.tensor([[0.0, 0.0, -2.0], [0.0, 0.0, -9.81]]))
    physics.step(10)
    drop = high[:, 2] - physics.state.body_pos[:, 0, 2]
    # semi-implicit Euler: after n steps of dt a free fall has dropped g dt^2 n (n + 1) / 2
    expected = np.array([2.0, 9.81]) * 0.01**2 * 10 * 11 / 2
    np.testing.assert_allclose(drop.numpy(), expected, rtol=1e-3)


def test_diverged_environment_is_reported():
    from isaac_tasks import make_env

    env = make_env("Leap-Grasp-v0", num_envs=3, seed=0)
    env.physics._qvel[1, 0] = np.nan
    diverged = env.physics.step(5)
    assert diverged.tolist() == [False, True, False]


def test_site_orientation_matches_mujoco(grasp_env):
    import mujoco

    physics = grasp_env.physics
    for _ in range(3):
        grasp_env.step(2 * torch.rand(grasp_env.num_envs, grasp_env.num_actions) - 1)
    xmat = physics.batch.bind("site_xmat")
    physics.batch.forward()  # fill the newly bound field at the current state
    physics.refresh()
    for env in (0, 5):
        for k, site in enumerate(physics._site):
            expected = np.zeros(4)
            mujoco.mju_mat2Quat(expected, xmat[env, site])
            got = physics.state.site_quat[env, k].double().numpy()
            assert min(np.abs(got - expected).max(), np.abs(got + expected).max()) < 1e-5
