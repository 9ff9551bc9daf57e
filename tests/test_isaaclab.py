"""The Isaac Lab backend and task registration (Python 3.12 venv with the `isaaclab` extra; skipped elsewhere).

Kinematics are compared with MuJoCo on the same compiled scene in this process; motion with the embedded backend's
recorded second (tests/backend_reference.py, MuJoCo 4.0). Tolerances are set from measurements with a margin
(docs/isaaclab.md): kinematics to 0.1 mm, contact-free joint motion over 1 s to 0.03 rad, objects at rest on the
table to 2 mm.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("isaaclab")
pytest.importorskip("isaaclab_newton")
mujoco = pytest.importorskip("mujoco")

from backend_reference import GOLDEN, NUM_ENVS, make_reference_env, scripted_motion  # noqa: E402
from isaac_tasks.isaaclab_env import isaaclab_id  # noqa: E402


@pytest.fixture(scope="module")
def grasp():
    env = make_reference_env("isaaclab")
    yield env
    env.physics.close()


def mujoco_copies(physics):
    """One MuJoCo simulation per environment of `physics`, in its current state and commands."""
    s, copies = physics.state, []
    for i in range(physics.num_envs):
        m = physics._variant_models[physics._variant_of_env[i]]
        d = mujoco.MjData(m)
        d.qpos[physics._qpos_adr] = s.joint_pos[i].numpy()
        adr = m.jnt_qposadr[m.body_jntadr[m.body("object").id]]
        d.qpos[adr : adr + 3], d.qpos[adr + 3 : adr + 7] = s.body_pos[i, 0].numpy(), s.body_quat[i, 0].numpy()
        d.ctrl[physics._actuator] = s.joint_pos[i].numpy()
        mujoco.mj_forward(m, d)
        copies.append((m, d, adr))
    return copies


def test_each_environment_holds_its_own_object_variant(grasp):
    physics = grasp.physics
    masses = physics._objects["object"].data.body_mass.torch[:, 0]
    expected = [physics._variant_models[v].body("object").mass[0] for v in physics._variant_of_env]
    assert torch.allclose(masses, torch.tensor(expected, dtype=masses.dtype), rtol=1e-5)
    assert sorted(physics._variant_of_env.tolist()) == list(range(NUM_ENVS))


def test_sites_and_jacobian_agree_with_mujoco(grasp):
    physics = grasp.physics
    copies = mujoco_copies(physics)
    jacobian = physics.site_jacobian(grasp.hand.palm_site)
    for i, (m, d, _) in enumerate(copies):
        np.testing.assert_allclose(physics.state.site_pos[i].numpy(), d.site_xpos[physics._site], atol=1e-4)
        linear, angular = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        mujoco.mj_jacSite(m, d, linear, angular, physics._site[0])
        expected = np.vstack([linear, angular])[:, m.jnt_dofadr[physics._joint]]
        np.testing.assert_allclose(jacobian[i].numpy(), expected, atol=1e-4)


def test_scripted_motion_and_resting_objects_agree_with_the_embedded_backend(grasp):
    """The recorded second of tests/backend_reference.py: the embedded backend's joints and object heights."""
    with open(GOLDEN) as f:
        golden = json.load(f)
    found = scripted_motion(grasp, torch.tensor(golden["start"]))
    assert not found["any_contact"] and not golden["any_contact"]
    joint_error = (torch.tensor(found["joint_pos"]) - torch.tensor(golden["joint_pos"])).abs()
    height_error = (torch.tensor(found["object_height"]) - torch.tensor(golden["object_height"])).abs()
    assert joint_error.max() < 0.03, joint_error.amax(dim=(0, 1))
    assert height_error.max() < 0.002, height_error.amax(dim=0)


def test_the_task_steps_on_isaaclab(grasp):
    grasp.reset()
    obs, reward, dones, extras = grasp.step(torch.zeros(grasp.num_envs, grasp.num_actions))
    assert torch.isfinite(reward).all() and torch.isfinite(obs["policy"]).all()
    assert obs["policy"].shape[0] == NUM_ENVS and "time_outs" in extras


def test_gravity_wrench_and_mass_are_set_per_environment(grasp):
    physics = grasp.physics
    everyone = torch.arange(NUM_ENVS)
    start = physics.state.joint_pos.clone()
    lifted = torch.tensor([0.5, 0.35, 0.0]).repeat(NUM_ENVS, 1)
    lifted[:, 2] = grasp.object_rest_height.cpu() + 0.05
    upright = torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(NUM_ENVS, 1)
    masses = physics._objects["object"].data.body_mass.torch[:, 0].clone()
    physics.set_gravity(torch.tensor([0]), torch.zeros(1, 3))
    physics.reset_envs(everyone, start, torch.zeros_like(start), {"object": (lifted, upright)})
    forces = torch.zeros(NUM_ENVS, len(physics.queries.bodies), 3)
    forces[1, 0, 2] = masses[1] * 9.81  # the object of environment 1 held up by a force
    physics.set_body_wrench(forces, torch.zeros_like(forces))
    for _ in range(6):  # 0.3 s: a free fall of 5 cm takes 0.1 s
        physics.step(grasp.cfg.decimation)
    above_rest = physics.state.body_pos[:, 0, 2] - grasp.object_rest_height.cpu()
    assert (above_rest[:2] > 0.049).all() and (above_rest[2:] < 0.005).all(), above_rest
    physics.set_gravity(torch.tensor([0]), torch.tensor([[0.0, 0.0, -9.81]]))
    physics.set_body_wrench(torch.zeros_like(forces), torch.zeros_like(forces))
    physics.scale_mass(torch.tensor([2]), "object", torch.tensor([2.0]))
    scaled = physics._objects["object"].data.body_mass.torch[:, 0]
    assert torch.allclose(scaled[2], 2 * masses[2]) and torch.equal(scaled[3:], masses[3:])
    physics.scale_mass(torch.tensor([2]), "object", torch.tensor([1.0]))


@pytest.mark.parametrize(
    "task, settings, logged",
    [
        ("Leap-Grasp-v0", 'env.task_overrides="grasp_type=pinch episode_length_s=0.2"', "Metrics/success_pinch"),
        ("Orca-Cube-Rotate-v0", "", ""),
    ],
)
def test_isaaclab_command_line_trains_the_task(task, settings, logged, tmp_path):
    """`isaaclab list_envs` lists the task and `isaaclab train` writes checkpoints, on the CPU, with the task's own
    settings where given."""
    isaaclab = os.path.join(os.path.dirname(sys.executable), "isaaclab")
    listed = subprocess.run([isaaclab, "list_envs"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert isaaclab_id(task) in listed.stdout, listed.stderr[-2000:]
    args = ["train", "--rl_library", "rsl_rl", "--task", isaaclab_id(task), "--num_envs", "4", "--max_iterations", "2"]
    args += ["--viz", "none", "--device", "cpu", "agent.device=cpu", *([settings] if settings else [])]
    run = subprocess.run([isaaclab, *args], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.glob("logs/rsl_rl/*/*/model_*.pt")) == ["model_0.pt", "model_1.pt"]
    if logged:  # the pinch objects alone
        assert logged in run.stdout and "success_power" not in run.stdout
