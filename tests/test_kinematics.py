"""The MjSpec-generated LEAP hand and Franka+LEAP models against the published kinematics."""

import mujoco
import numpy as np
import pytest

from assets import kinematics_reference as ref
from assets.franka import (
    ARM_JOINT_LIMITS,
    ARM_JOINT_NAMES,
    ARM_KV_PER_KP,
    ARM_READY_POSE,
    franka_hand_spec,
)
from assets.leap_hand import (
    LEAP_FINGERTIP_BODIES,
    LEAP_HAND,
    LEAP_FINGERTIP_SITES,
    LEAP_JOINT_LIMITS,
    LEAP_JOINT_NAMES,
    LEAP_PALM_BODY,
    leap_hand_spec,
)

N_SAMPLES = 200
TIP_TOL = 3e-3
FLANGE_TOL = 1e-3
FINGERS = ("index", "middle", "ring", "thumb")
URDF_NAME = {name: str(i) for i, name in enumerate(LEAP_JOINT_NAMES)}  # published order == URDF ids


@pytest.fixture(scope="module")
def hand() -> mujoco.MjModel:
    return leap_hand_spec().compile()


@pytest.fixture(scope="module")
def robot() -> mujoco.MjModel:
    return franka_hand_spec(LEAP_HAND).compile()


def _set_joints(model: mujoco.MjModel, data: mujoco.MjData, names, values) -> None:
    for name, value in zip(names, values):
        data.qpos[model.joint(name).qposadr[0]] = value


def _in_frame(data: mujoco.MjData, body: str, point: np.ndarray) -> np.ndarray:
    return data.body(body).xmat.reshape(3, 3).T @ (point - data.body(body).xpos)


@pytest.mark.parametrize("model_name", ["hand", "robot"])
def test_options_and_actuator_order(model_name: str, request) -> None:
    model = request.getfixturevalue(model_name)
    assert model.opt.timestep == 0.01
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    expected = LEAP_JOINT_NAMES if model_name == "hand" else ARM_JOINT_NAMES + LEAP_JOINT_NAMES
    assert [model.actuator(i).name for i in range(model.nu)] == list(expected)
    for i, name in enumerate(expected):
        assert model.actuator_trnid[i, 0] == model.joint(name).id
    for name in LEAP_FINGERTIP_SITES + ("palm",):
        model.site(name)
    for name in LEAP_FINGERTIP_BODIES + (LEAP_PALM_BODY,):
        model.body(name)
    assert np.all(model.geom_contype == 1) and np.all(model.geom_conaffinity == 0)
    assert np.all(model.geom_group == 0)


def test_leap_limits_gains_masses(robot: mujoco.MjModel) -> None:
    published = ref.leap_limits_by_urdf_name()
    for name, limits in zip(LEAP_JOINT_NAMES, LEAP_JOINT_LIMITS):
        np.testing.assert_allclose(limits, published[URDF_NAME[name]])
        np.testing.assert_allclose(robot.jnt_range[robot.joint(name).id], limits)
        act = robot.actuator(name)
        np.testing.assert_allclose(act.ctrlrange, limits)
        assert act.gainprm[0] == ref.LEAP_KP
        np.testing.assert_allclose(act.biasprm[:3], [0.0, -ref.LEAP_KP, -ref.LEAP_KV])
    palm = robot.body(LEAP_PALM_BODY).id
    assert robot.body_subtreemass[palm] == pytest.approx(0.746, abs=1e-6)  # published link masses


def test_arm_limits_and_gains(robot: mujoco.MjModel) -> None:
    np.testing.assert_allclose(ARM_JOINT_LIMITS, ref.PANDA_LIMITS)
    for name, limits, kp in zip(ARM_JOINT_NAMES, ref.PANDA_LIMITS, ref.PANDA_KP):
        np.testing.assert_allclose(robot.jnt_range[robot.joint(name).id], limits)
        act = robot.actuator(name)
        np.testing.assert_allclose(act.ctrlrange, limits)
        assert act.gainprm[0] == kp
        # damping is ours, lighter than the reference's kp / 10 so that a saturated joint can still move
        np.testing.assert_allclose(act.biasprm[:3], [0.0, -kp, -kp * ARM_KV_PER_KP])
    assert (ARM_KV_PER_KP * np.asarray(ref.PANDA_KP) < np.asarray(ref.PANDA_KV)).all()


@pytest.mark.parametrize("model_name", ["hand", "robot"])
def test_fingertips_match_published_fk(model_name: str, request) -> None:
    model = request.getfixturevalue(model_name)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(N_SAMPLES):
        q = rng.uniform(LEAP_JOINT_LIMITS[:, 0], LEAP_JOINT_LIMITS[:, 1])
        _set_joints(model, data, LEAP_JOINT_NAMES, q)
        if model_name == "robot":
            _set_joints(model, data, ARM_JOINT_NAMES, rng.uniform(ARM_JOINT_LIMITS[:, 0], ARM_JOINT_LIMITS[:, 1]))
        mujoco.mj_kinematics(model, data)
        q_urdf = {URDF_NAME[name]: value for name, value in zip(LEAP_JOINT_NAMES, q)}
        for finger, site in zip(FINGERS, LEAP_FINGERTIP_SITES):
            tip = _in_frame(data, LEAP_PALM_BODY, data.site(site).xpos)
            worst = max(worst, np.linalg.norm(tip - ref.leap_fingertip(finger, q_urdf)))
    assert worst < TIP_TOL


def test_flange_and_palm_pose_match_dh(robot: mujoco.MjModel) -> None:
    data = mujoco.MjData(robot)
    rng = np.random.default_rng(1)
    for _ in range(N_SAMPLES):
        q = rng.uniform(ARM_JOINT_LIMITS[:, 0], ARM_JOINT_LIMITS[:, 1])
        _set_joints(robot, data, ARM_JOINT_NAMES, q)
        mujoco.mj_kinematics(robot, data)
        flange = ref.panda_flange(q)
        assert np.linalg.norm(data.body("panda_flange").xpos - flange[:3, 3]) < FLANGE_TOL
        np.testing.assert_allclose(data.body("panda_flange").xmat.reshape(3, 3), flange[:3, :3], atol=1e-6)
        palm = data.site("palm").xmat.reshape(3, 3)
        np.testing.assert_allclose(palm[:, 2], flange[:3, 2], atol=1e-6)  # palm faces along flange z
        offset = flange[:3, :3].T @ (data.site("palm").xpos - flange[:3, 3])
        np.testing.assert_allclose(offset[:2], 0.0, atol=1e-6)  # palm centre on the flange axis
        assert 0.03 < offset[2] < 0.08


def test_ready_pose_palm_down_fingers_forward(robot: mujoco.MjModel) -> None:
    data = mujoco.MjData(robot)
    _set_joints(robot, data, ARM_JOINT_NAMES, ARM_READY_POSE)
    mujoco.mj_kinematics(robot, data)
    palm = data.site("palm").xmat.reshape(3, 3)
    np.testing.assert_allclose(palm[:, 2], [0, 0, -1], atol=1e-3)
    np.testing.assert_allclose(palm[:, 0], [1, 0, 0], atol=1e-3)


def test_holds_ready_pose_under_gravity(robot: mujoco.MjModel) -> None:
    data = mujoco.MjData(robot)
    _set_joints(robot, data, ARM_JOINT_NAMES, ARM_READY_POSE)
    data.ctrl[:7] = ARM_READY_POSE
    arm = [robot.joint(n).qposadr[0] for n in ARM_JOINT_NAMES]
    hand = [robot.joint(n).qposadr[0] for n in LEAP_JOINT_NAMES]
    for _ in range(2000):
        mujoco.mj_step(robot, data)
    assert np.all(np.isfinite(data.qpos)) and np.all(np.isfinite(data.qvel))
    assert np.abs(data.qpos[arm] - ARM_READY_POSE).max() < 1e-2
    assert np.abs(data.qpos[hand]).max() < 0.05  # kp = 3 N m/rad finger servos sag slightly
    assert np.abs(data.qvel).max() < 1e-3
