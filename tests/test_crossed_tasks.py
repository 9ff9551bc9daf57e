"""The crossed pairs (issue 15): a task id is a hand with a task, so the ORCA hand grasps on the Franka arm
(`Orca-Grasp-v0`) and the LEAP hand turns a cube palm down (`Leap-Cube-Rotate-v0`) from data alone. Their
task logic is tested with the originals' (tests/test_grasp.py, tests/test_cube_rotate.py); here, what the
hand changes."""

import mujoco
import numpy as np
import pytest
import torch

from assets.franka import franka_hand_spec
from assets.leap_hand import LEAP_HAND
from assets.orca_hand import ORCA_HAND
from isaac_tasks import TASKS, env_class, make_env, make_prior_io

from conftest import tiny_priors


@pytest.mark.parametrize("hand", (LEAP_HAND, ORCA_HAND), ids=lambda h: h.name)
def test_every_hand_mounts_its_palm_where_the_arm_expects_it(hand):
    """With the arm at the same pose, any hand's palm site lies at the same place facing the same way, so the
    arm's home pose and the palm-pose actions mean the same with either hand."""
    hand.validate()
    model = franka_hand_spec(hand).compile()
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    palm = data.site(hand.palm_site)
    np.testing.assert_allclose(palm.xpos, [0.088, 0.0, 0.869], atol=1e-9)
    np.testing.assert_allclose(palm.xmat.reshape(3, 3)[:, 2], [0.0, 0.0, -1.0], atol=1e-9)  # palm facing down
    assert model.nu == 7 + hand.num_joints
    assert [model.actuator(i).name for i in range(7, model.nu)] == list(hand.joint_names)
    # the description's limits and gains are the model's
    joints = [model.joint(name).id for name in hand.joint_names]
    np.testing.assert_allclose(model.jnt_range[joints], hand.joint_limits)
    np.testing.assert_allclose(model.actuator_gainprm[7:, 0], hand.kp)
    np.testing.assert_allclose(-model.actuator_biasprm[7:, 2], hand.kd)
    np.testing.assert_allclose(
        model.actuator_forcerange[7:], np.tile([-hand.effort, hand.effort], (hand.num_joints, 1))
    )
    for body in hand.payload_bodies:
        assert model.body_gravcomp[model.body(body).id] == 1.0


def test_each_task_sizes_itself_from_its_hand():
    assert {task: env_class(task).hand.name for task in TASKS} == {
        "Leap-Grasp-v0": "leap",
        "Orca-Grasp-v0": "orca",
        "Orca-Cube-Rotate-v0": "orca",
        "Leap-Cube-Rotate-v0": "leap",
    }
    orca = env_class("Orca-Grasp-v0")
    assert orca.num_finger_joints == 17 and orca.demo_format.num_actions == 6 + 17
    assert orca.demo_format.obs["joint_pos"] == 7 + 17 and orca.demo_format.obs["fingertip_contact"] == 5
    variants = make_prior_io("Orca-Grasp-v0").variants
    assert variants["hand"] == {"action_dim": 17, "cond_dim": 17}
    assert variants["hand_arm"] == {"action_dim": 3 + 4 + 17, "cond_dim": 7 + 8 + 24 + 24}
    env = make_env("Orca-Grasp-v0", num_envs=2, seed=0)
    obs = env.reset()
    assert env.num_actions == 6 + 17 and len(env.physics.queries.sites) == 1 + 5
    assert {key: value.shape[-1] for key, value in env.demo_observation().items()} == orca.demo_format.obs
    assert env.privileged_state().shape[-1] == orca.demo_format.state_dim
    assert torch.isfinite(obs["policy"]).all() and torch.isfinite(obs["critic"]).all()


def test_the_leap_cube_is_scaled_with_the_hand():
    env = make_env("Leap-Cube-Rotate-v0", num_envs=2, seed=0)
    orca = make_env("Orca-Cube-Rotate-v0", num_envs=2, seed=0)
    assert env.num_actions == 16 and orca.num_actions == 17
    scale = env.cfg.cube_size / orca.cfg.cube_size
    assert scale == pytest.approx(1 / ORCA_HAND.grasp_scale, rel=0.05)
    density = [cfg.cube_mass / cfg.cube_size**3 for cfg in (env.cfg, orca.cfg)]
    assert density[0] == pytest.approx(density[1], rel=0.01)
    # resting on a platform scaled with it under the palm, as the ORCA cube does
    for task_env in (env, orca):
        model = task_env.physics.model
        platform = model.geom_size[model.body_geomadr[model.body("platform").id]]
        assert platform[0] == pytest.approx(2 / 3 * task_env.cfg.cube_size)
    cube = env.physics.state.body_pos[:, 0]
    assert (cube[:, 2] < 0.30 - env.cfg.cube_size / 2).all() and (cube[:, 0] > 0).all()


@pytest.mark.parametrize(
    "task, space",
    [("Orca-Grasp-v0", "rel_joint"), ("Orca-Grasp-v0", "rfs_hand_arm"), ("Leap-Cube-Rotate-v0", None)],
)
def test_crossed_tasks_train_with_the_real_runner(task, space, trains_with_runner, tmp_path):
    settings = {}
    if space:
        settings["action_space"] = space
    if space == "rfs_hand_arm":
        settings["prior_checkpoint"] = tiny_priors(task, tmp_path)["hand_arm"]
    env = make_env(task, num_envs=4, seed=0, **settings)
    assert trains_with_runner(env, num_steps_per_env=8, iterations=2)
