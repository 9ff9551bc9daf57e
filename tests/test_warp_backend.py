"""The MuJoCo Warp backend, on Warp's CPU device, against the CPU MuJoCo backend.

Both backends build Leap-Grasp-v0 from the same seed (the same initial states, and three object variants,
so three Warp models) and receive the same randomized parameters and scripted actions. MuJoCo Warp
computes in float32 and MuJoCo in float64; over the short rollout below, with the arm moving freely and
the object resting on the table, they differ by 1e-6 rad in the joints, 2e-7 m at the fingertips and
2e-5 m in the object position. TOLERANCE allows ten to twenty times the measured differences: float32
round-off, which may differ between CPUs, not a modelling difference.
"""

import math
import os
import subprocess
import sys

import mujoco
import numpy as np
import pytest
import torch

pytest.importorskip("mujoco_warp")

from isaac_tasks import make_env, make_env_cfg  # noqa: E402
from isaac_tasks.grasp.scene import OBJECT_BODY  # noqa: E402

NUM_ENVS = 3
NUM_STEPS = 10  # control steps of 5 physics steps each
# Absolute tolerance (measured difference in the comment): rad, rad/s, m, m, quaternion components, m/s.
TOLERANCE = {
    "joint_pos": 1e-5,  # 9.5e-7
    "joint_vel": 5e-5,  # 2.4e-6
    "site_pos": 5e-6,  # 2.4e-7
    "body_pos": 2e-4,  # 1.6e-5
    "body_quat": 2e-3,  # 1.1e-4
    "body_lin_vel": 1e-2,  # 5.7e-4
}


@pytest.fixture(scope="module")
def envs():
    return {
        backend: make_env("Leap-Grasp-v0", num_envs=NUM_ENVS, seed=1, grasp_type="pinch", backend=backend)
        for backend in ("mujoco", "mujoco_warp")
    }


def randomize(physics) -> None:
    """The same parameter changes, on environments 0 and 2, for either backend."""
    ids, joints = torch.tensor([0, 2]), len(physics.queries.joints)
    physics.set_friction(ids, OBJECT_BODY, torch.tensor([0.4, 1.3]))
    physics.scale_mass(ids, OBJECT_BODY, torch.tensor([0.5, 2.0]))
    physics.scale_joint_gains(ids, torch.full((2, joints), 0.7), torch.full((2, joints), 1.5))
    physics.set_joint_limits(ids, physics.joint_limits.expand(2, -1, -1) * 0.95)
    physics.set_gravity(ids, torch.tensor([[0.5, 0.0, -9.0], [0.0, -0.5, -10.5]]))


def scripted_actions(step: int, num_envs: int, num_actions: int) -> torch.Tensor:
    """Smooth motions, different per environment and action dimension."""
    phase = torch.arange(num_envs * num_actions, dtype=torch.float32).reshape(num_envs, num_actions)
    return 0.8 * torch.sin(0.4 * step + 0.7 * phase)


def test_randomized_short_rollout_agrees(envs):
    cpu, warp = envs["mujoco"], envs["mujoco_warp"]
    randomize(cpu.physics)
    randomize(warp.physics)
    rows, batch = warp.physics._row, cpu.physics.batch
    for name, values in {
        "opt.gravity": warp.physics._gravity,
        "body_mass": warp.physics._body_mass,
        "body_inertia": warp.physics._body_inertia,
        "geom_friction": warp.physics._geom_friction,
        "actuator_gainprm": warp.physics._actuator_gainprm,
        "actuator_biasprm": warp.physics._actuator_biasprm,
        "dof_damping": warp.physics._dof_damping,
        "jnt_range": warp.physics._jnt_range,
    }.items():
        np.testing.assert_allclose(values[rows].numpy(), batch.expand(name), rtol=1e-6, atol=1e-7, err_msg=name)

    start_object, start_sites = warp.physics.state.body_pos.clone(), warp.physics.state.site_pos.clone()
    for step in range(NUM_STEPS):
        actions = scripted_actions(step, NUM_ENVS, cpu.num_actions)
        _, cpu_reward, cpu_done, _ = cpu.step(actions)
        _, warp_reward, warp_done, _ = warp.step(actions)
        assert torch.equal(cpu_done, warp_done)
    a, b = cpu.physics.state, warp.physics.state
    for name, atol in TOLERANCE.items():
        torch.testing.assert_close(getattr(b, name), getattr(a, name), atol=atol, rtol=0, msg=name)
    torch.testing.assert_close(warp_reward, cpu_reward, atol=1e-5, rtol=0)  # measured: 8.6e-7
    # the hand moved far beyond the tolerance (not a comparison of robots at rest); the object stayed put
    assert ((b.site_pos - start_sites).norm(dim=-1) > 1e-2).all()
    assert (b.body_pos - start_object).abs().max() < 1e-2


@pytest.mark.parametrize("device", ["cpu"] + (["cuda:0"] if torch.cuda.is_available() else []))
def test_same_state_and_targets_agree_on_every_device(envs, device):
    # Physics alone (a task on a GPU draws other random numbers): one state, the same targets, both backends.
    cpu = envs["mujoco"].physics
    warp = envs["mujoco_warp"].physics if device == "cpu" else make_env_on(device).physics
    ids, limits = torch.arange(NUM_ENVS), cpu.joint_limits
    joint_pos = cpu.state.joint_pos.clone()  # the hand above the table
    object_pose = (cpu.state.body_pos[:, 0].clone(), cpu.state.body_quat[:, 0].clone())
    for physics in (cpu, warp):
        randomize(physics)
        physics.reset_envs(ids, joint_pos, torch.zeros_like(joint_pos), {OBJECT_BODY: object_pose})
        physics.set_joint_effort(torch.zeros_like(joint_pos))
    phase = torch.arange(joint_pos.numel(), dtype=torch.float32).reshape(joint_pos.shape)
    for step in range(NUM_STEPS):
        targets = joint_pos + 0.05 * (limits[:, 1] - limits[:, 0]) * torch.sin(0.4 * step + 0.7 * phase)
        for physics in (cpu, warp):
            physics.set_joint_position_target(targets.clamp(limits[:, 0], limits[:, 1]))
            physics.step(5)
    # Faster finger motions than the task's rollout (on the CPU device the joint velocities differ by 2e-5,
    # the sites by 2e-6 m), and a GPU sums in other orders: ten times the tolerance.
    for name, atol in TOLERANCE.items():
        torch.testing.assert_close(
            getattr(warp.state, name).cpu(), getattr(cpu.state, name), atol=10 * atol, rtol=0, msg=name
        )


def make_env_on(device: str):
    return make_env(
        "Leap-Grasp-v0", num_envs=NUM_ENVS, seed=1, grasp_type="pinch", backend="mujoco_warp", device=device
    )


def test_contact_with_a_fingertip_is_reported_alike(envs):
    # Put the object onto a fingertip of environment 1 in both backends and take one physics step.
    states = {}
    for backend, env in envs.items():
        env.reset()
        physics = env.physics
        tip = physics.state.site_pos[1:2, 1].clone()  # index fingertip
        quat = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
        joint_pos = physics.state.joint_pos[1:2].clone()
        physics.reset_envs(torch.tensor([1]), joint_pos, torch.zeros_like(joint_pos), {OBJECT_BODY: (tip, quat)})
        physics.step(1)
        states[backend] = physics.state
    cpu, warp = states["mujoco"], states["mujoco_warp"]
    assert cpu.in_contact[1].any()
    assert torch.equal(cpu.in_contact, warp.in_contact)
    torch.testing.assert_close(warp.contact_force, cpu.contact_force, rtol=1e-3, atol=1e-3)  # measured: 1e-6


def test_ray_casts_agree(envs):
    cpu, warp = envs["mujoco"].physics, envs["mujoco_warp"].physics
    origins = cpu.state.body_pos[:, :1] + torch.tensor([0.0, 0.0, 0.3])  # above each object
    directions = torch.nn.functional.normalize(
        torch.randn(1, 64, 3, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    directions[..., 2] = -directions[..., 2].abs()  # downwards: the object, the table or the hand
    directions[:, :16, 2] = -8.0  # and steeply down, onto the object
    directions = torch.nn.functional.normalize(directions, dim=-1)
    for body in (None, OBJECT_BODY):  # every surface; the object's alone (a segmentation mask)
        expected, found = cpu.ray_cast(origins, directions, body), warp.ray_cast(origins, directions, body)
        assert torch.isfinite(expected).any() and torch.equal(torch.isinf(expected), torch.isinf(found))
        hit = torch.isfinite(expected)
        torch.testing.assert_close(found[hit], expected[hit], atol=1e-5, rtol=0)
    assert torch.isinf(expected).sum() > torch.isinf(cpu.ray_cast(origins, directions)).sum()


def test_render_data_agrees(envs):
    """Each environment's rendering data: the same object variant and poses on either backend."""
    cpu, warp = envs["mujoco"].physics, envs["mujoco_warp"].physics
    for env_id in range(NUM_ENVS):
        (cpu_model, cpu_data), (warp_model, warp_data) = cpu.render_data(env_id), warp.render_data(env_id)
        np.testing.assert_array_equal(warp_model.geom_size, cpu_model.geom_size)
        np.testing.assert_allclose(warp_data.geom_xpos, cpu_data.geom_xpos, atol=TOLERANCE["body_pos"])
        np.testing.assert_allclose(warp_data.light_xpos, cpu_data.light_xpos, atol=TOLERANCE["body_pos"])
        again = warp.render_data(env_id, warp_model, warp_data)
        assert again[0] is warp_model and again[1] is warp_data


def test_site_jacobian_matches_mujoco(envs):
    physics = envs["mujoco_warp"].physics
    model, data = physics.model, mujoco.MjData(physics.model)
    data.qpos[:] = physics._qpos[physics._row[0]].double().numpy()
    mujoco.mj_kinematics(model, data)
    mujoco.mj_comPos(model, data)
    for k, site in enumerate(physics.queries.sites):
        jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        mujoco.mj_jacSite(model, data, jacp, jacr, int(physics._site[k]))
        expected = np.concatenate((jacp, jacr))[:, physics._dof_adr]
        np.testing.assert_allclose(physics.site_jacobian(site)[0].numpy(), expected, atol=1e-5)


def test_gravity_per_environment_changes_the_fall(envs):
    physics = envs["mujoco_warp"].physics
    ids = torch.arange(NUM_ENVS)
    high = torch.tensor([[0.55, 0.3, 0.5], [0.55, -0.3, 0.5], [0.4, 0.3, 0.6]])  # clear of the hand
    quat = torch.tensor([[1.0, 0.0, 0.0, 0.0]]).expand(NUM_ENVS, 4)
    joint_pos = physics.state.joint_pos.clone()
    physics.reset_envs(ids, joint_pos, torch.zeros_like(joint_pos), {OBJECT_BODY: (high, quat)})
    physics.set_gravity(ids, torch.tensor([[0.0, 0.0, -2.0], [0.0, 0.0, -9.81], [0.0, 0.0, -5.0]]))
    physics.step(10)
    drop = high[:, 2] - physics.state.body_pos[:, 0, 2]
    # semi-implicit Euler: after n steps of dt a free fall has dropped g dt^2 n (n + 1) / 2
    expected = torch.tensor([2.0, 9.81, 5.0]) * physics.info.physics_dt**2 * 10 * 11 / 2
    torch.testing.assert_close(drop, expected, rtol=1e-3, atol=1e-6)


def test_diverged_environment_is_reported(envs):
    env = envs["mujoco_warp"]
    env.physics._qvel[env.physics._row[1], 0] = math.nan
    assert env.physics.step(2).tolist() == [False, True, False]
    env.reset()
    assert not env.physics.step(2).any()


def test_cuda_device_without_gpu_is_a_one_line_tool_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    tool = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "benchmark.py")
    args = ["--task", "Leap-Grasp-v0", "--backend", "mujoco_warp", "--device", "cuda:0", "--num_envs", "2"]
    result = subprocess.run([sys.executable, tool, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]  # Warp may print its own notes before it
    assert last_line.startswith("error: device 'cuda:0': no CUDA GPU") and last_line.endswith("use --device cpu")


def test_malformed_device_is_rejected_by_the_config():
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N'"):
        make_env_cfg("Leap-Grasp-v0", backend="mujoco_warp", device="gpu")


def test_missing_warp_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "mujoco_warp", None)  # its import fails as if it were not installed
    monkeypatch.delitem(sys.modules, "isaac_tasks.physics.warp_backend", raising=False)
    with pytest.raises(ValueError, match=r"pip install -e \.\[warp\]"):
        make_env("Leap-Grasp-v0", num_envs=1, backend="mujoco_warp")


def test_kernels_compile_for_a_gpu_without_one(tmp_path):
    # tools/warp_kernel_cache.py's core: a kernel run on Warp's CPU device, compiled for sm_90 into the folder
    # and file a GPU's Warp looks up on first launch (the module's identifier at CUDA's default block size).
    script = """
import sys
import warp as wp
from isaac_tasks.physics.warp_kernels import compile_defined_kernels
@wp.kernel
def double(a: wp.array(dtype=float)):
    a[wp.tid()] *= 2.0
wp.launch(double, dim=3, inputs=[wp.ones(3, dtype=float, device="cpu")], device="cpu")
folders = compile_defined_kernels(90, sys.argv[1])
print(len(folders), double.module.get_module_identifier(block_dim=256))
"""
    (tmp_path / "define.py").write_text(script)  # Warp reads a kernel's source from its file
    out = tmp_path / "kernels"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, str(tmp_path / "define.py"), str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    count, identifier = done.stdout.split()[-2:]
    cubin = out / identifier / f"{identifier}.sm90.cubin"
    assert cubin.stat().st_size > 0 and int(count) == len(list(out.iterdir()))
