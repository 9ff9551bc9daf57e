"""The cube-rotation task with either hand (Orca-Cube-Rotate-v0, Leap-Cube-Rotate-v0): platform, commands, reward
terms, randomization, metrics, stability."""

import math

import numpy as np
import pytest
import torch

from assets.orca_hand import ORCA_HAND
from isaac_tasks import make_env, make_env_cfg
from isaac_tasks.math import quat_from_yaw
from isaac_tasks.cube_rotate import metrics, rewards
from isaac_tasks.cube_rotate.scene import CUBE_BODY


TASKS = ("Orca-Cube-Rotate-v0", "Leap-Cube-Rotate-v0")


@pytest.fixture(scope="module", params=TASKS)
def cube_env(request):
    return make_env(request.param, num_envs=12, seed=5)


def test_platform_holds_the_cube_for_six_seconds_then_releases(cube_env):
    env = cube_env
    env.reset()
    open_hand = -torch.ones(env.num_envs, env.num_actions)  # fingers away from the cube
    start = env.physics.state.body_pos[:, 0].clone()
    support_steps = round(6.0 / env.step_dt)
    for _ in range(5):
        env.step(open_hand)
    settled = env.physics.state.body_pos[:, 0].clone()
    assert (settled - start).norm(dim=-1).max() < 0.002  # placed resting on the platform
    for _ in range(support_steps - 6):
        env.step(open_hand)
    assert (env.physics.state.body_pos[:, 0] - settled).norm(dim=-1).max() < 0.002  # held still
    assert (env.physics.state.body_lin_vel[:, 0].norm(dim=-1) < 1e-3).all()
    dropped = torch.zeros(env.num_envs, dtype=torch.bool)
    for _ in range(20):
        _, _, dones, _ = env.step(open_hand)
        dropped |= dones
    assert dropped.all()  # unsupported and not held, every cube falls


def test_command_resampling_interval_and_range(cube_env):
    env = cube_env
    signs = set()
    for _ in range(20):
        env._sample_command(torch.arange(env.num_envs))
        hold_s = env.command_timer.float() * env.step_dt
        assert ((hold_s >= 8.0 - 1e-6) & (hold_s <= 12.0 + 1e-6)).all()
        assert ((env.command.abs() >= 0.5) & (env.command.abs() <= 1.5)).all()
        signs |= set(torch.sign(env.command).tolist())
    assert signs == {-1.0, 1.0}

    # A platform that outlasts the command keeps every episode alive: only the timer changes commands.
    env = make_env("Orca-Cube-Rotate-v0", num_envs=6, seed=1, platform_support_s=20.0)
    before, timers = env.command.clone(), env.command_timer.clone()
    changed_at = torch.full((env.num_envs,), -1)
    for step in range(1, round(12.0 / env.step_dt) + 1):
        env.step(torch.zeros(env.num_envs, env.num_actions))
        changed_at[(env.command != before) & (changed_at < 0)] = step
    assert (changed_at == timers).all()
    hold_s = changed_at.float() * env.step_dt
    assert ((hold_s >= 8.0 - 1e-6) & (hold_s <= 12.0 + 1e-6)).all()


def test_tracking_rewards_prefer_the_commanded_spin():
    command = torch.tensor([1.0, 1.0, 1.0])
    spin = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [0.0, 0.0, 0.0]])  # right, wrong way, still
    magnitude = rewards.rotation_magnitude_tracking(spin, command)
    direction = rewards.rotation_direction_alignment(spin, command)
    assert magnitude[0] > magnitude[2] > magnitude[1]
    assert direction[0] > direction[2] > direction[1]
    assert direction[0] > 0.8 and direction[1] < -0.8 and direction[2].abs() < 1e-6
    origin = torch.zeros(3)
    assert rewards.object_position_tracking(torch.tensor([[0.0, 0, 0], [0.05, 0, 0]]), origin).diff() < 0
    tips_around = torch.tensor([[[0.02, 0, 0], [-0.02, 0, 0], [0, 0.02, 0], [0, -0.02, 0]]])
    tips_one_side = torch.tensor([[[0.02, 0, 0], [0.03, 0, 0], [0.02, 0.01, 0], [0.03, 0.01, 0]]])
    center = torch.zeros(1, 3)
    assert rewards.pose_closure(tips_around, center) > 0.99 > rewards.pose_closure(tips_one_side, center) + 0.5
    assert rewards.reaching_object(tips_around, center) > rewards.reaching_object(5 * tips_around, center)
    assert rewards.angular_acceleration(spin, spin).abs().max() == 0
    assert (rewards.angular_acceleration(spin, torch.zeros(3, 3))[:2] < 0).all()


def test_randomized_parameters_inside_their_ranges(cube_env):
    env, physics = cube_env, cube_env.physics
    r = env.cfg.randomization
    model, batch = physics.model, physics.batch
    kp = batch.expand("actuator_gainprm")[:, physics._actuator, 0] / physics._nominal_kp
    assert kp.min() >= r.stiffness_scale[0] - 1e-9 and kp.max() <= r.stiffness_scale[1] + 1e-9 and kp.std() > 0
    # damping lives in the joints (ORCA) or in the servos (LEAP's kv): either is scaled
    passive, servo = physics._nominal_damping > 0, physics._nominal_kv > 0
    kv = -batch.expand("actuator_biasprm")[:, physics._actuator, 2]
    damping = np.concatenate(
        (
            batch.expand("dof_damping")[:, physics._dof_adr][:, passive] / physics._nominal_damping[passive],
            kv[:, servo] / physics._nominal_kv[servo],
        ),
        axis=1,
    )
    assert damping.size
    assert damping.min() >= r.damping_scale[0] - 1e-9 and damping.max() <= r.damping_scale[1] + 1e-9
    limits = batch.expand("jnt_range")[:, physics._joint] - env.joint_limits.numpy()
    assert np.abs(limits).max() <= r.joint_limit_noise + 1e-6 and np.abs(limits).max() > 0
    cube = model.body(CUBE_BODY).id
    cube_geom = np.flatnonzero(model.geom_bodyid == cube)[0]
    friction = batch.expand("geom_friction")[:, cube_geom, 0]
    assert friction.min() >= r.cube_friction[0] and friction.max() <= r.cube_friction[1]
    mass = batch.expand("body_mass")[:, cube] / model.body_mass[cube]
    assert mass.min() >= r.cube_mass_scale[0] - 1e-9 and mass.max() <= r.cube_mass_scale[1] + 1e-9
    gravity = batch.expand("opt.gravity")
    assert np.abs(gravity[:, :2]).max() == 0 and np.abs(gravity[:, 2] + 9.81).max() < 5 * r.gravity_noise_std
    for body in env.hand.link_bodies:
        b = model.body(body).id
        geoms = np.flatnonzero(model.geom_bodyid == b)
        link_friction = batch.expand("geom_friction")[:, geoms, 0] / env.hand.link_friction
        assert link_friction.min() >= r.link_friction_scale[0] and link_friction.max() <= r.link_friction_scale[1]
        link_mass = batch.expand("body_mass")[:, b] / model.body_mass[b]
        assert link_mass.min() >= r.link_mass_scale[0] - 1e-9 and link_mass.max() <= r.link_mass_scale[1] + 1e-9


def test_rotation_metrics_on_a_known_trajectory():
    rate, seconds, dt = 1.2, 30.0, 0.05  # rad/s about +z
    yaw = torch.arange(0, seconds + dt / 2, dt) * rate
    quat = quat_from_yaw(yaw)
    turned = metrics.yaw_increment(quat[:-1], quat[1:]).sum()
    rotation_turns = metrics.turns(turned)
    assert rotation_turns.item() == pytest.approx(rate * seconds / (2 * math.pi), rel=1e-4)
    rpm = metrics.rotations_per_minute(rotation_turns, torch.tensor(seconds))
    assert rpm.item() == pytest.approx(rate * 60 / (2 * math.pi), rel=1e-4)
    backwards = metrics.yaw_increment(quat[1:], quat[:-1]).sum()
    assert backwards.item() == pytest.approx(-turned.item(), rel=1e-6)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"command_magnitude": (0.5, 2.0)}, "command_magnitude"),
        ({"command_hold_s": (12.0, 8.0)}, "command_hold_s"),
        ({"action_ema_alpha": 1.5}, "action_ema_alpha"),
    ],
)
def test_bad_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        make_env_cfg("Orca-Cube-Rotate-v0", **overrides)


def test_bad_randomization_is_refused():
    cfg = make_env_cfg("Orca-Cube-Rotate-v0")
    cfg.randomization.cube_mass_scale = (1.0, 0.2)
    with pytest.raises(ValueError, match="cube_mass_scale"):
        cfg.validate()
    cfg.randomization.cube_mass_scale = (0.2, 1.0)
    cfg.randomization.gravity_noise_std = -1.0
    with pytest.raises(ValueError, match="gravity_noise_std"):
        cfg.validate()


@pytest.mark.parametrize("task", TASKS)
def test_stable_under_random_actions(task):
    env = make_env(task, num_envs=16, seed=2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(1500):
        obs, reward, _, _ = env.step(2 * torch.rand(16, env.num_actions, generator=generator) - 1)
        assert torch.isfinite(reward).all()
    assert torch.isfinite(obs["policy"]).all()
    assert env.diverged_resets == 0


def _close_and_release(task: str, targets: np.ndarray, soft_contacts: bool = False) -> float:
    """Height (m) the task's cube has lost 3 s after the platform left it, with the hand closed on `targets`."""
    import mujoco

    from isaac_tasks import env_class, make_env_cfg
    from isaac_tasks.cube_rotate.scene import cube_scene, cube_start_height, platform_support_pos

    hand, cfg = env_class(task).hand, make_env_cfg(task)
    spec = cube_scene(hand, cfg.cube_size, cfg.cube_mass, cfg.cube_xy, cfg.sim_dt)
    if soft_contacts:  # MuJoCo's defaults
        spec.option.cone, spec.option.impratio = mujoco.mjtCone.mjCONE_PYRAMIDAL, 1.0
    model = spec.compile()
    data = mujoco.MjData(model)
    targets = np.clip(targets, *hand.joint_limits.T)
    cube = model.jnt_qposadr[model.joint("cube_root").id]
    start = cube_start_height(cfg.cube_size)
    data.qpos[cube : cube + 3] = (*cfg.cube_xy, start)
    platform = np.array(platform_support_pos(cfg.cube_size, cfg.cube_xy))
    for step in range(round(5.0 / model.opt.timestep)):
        t = step * model.opt.timestep
        data.ctrl[: len(targets)] = np.clip((t - 0.2) / 0.6, 0.0, 1.0) * targets  # close over 0.6 s
        data.mocap_pos[0] = platform - (0, 0, np.clip(0.2 * (t - 2.0), 0.0, 0.1))  # retract after 2 s
        mujoco.mj_step(model, data)
    return start - data.body("cube").xpos[2]


def test_a_pinch_holds_the_cube_without_the_platform():
    """Each hand can hold its cube palm down with the published servo gains: ORCA between thumb and fingers, LEAP
    with its power synergy closed a little past it (its pinch lets the 60 mm cube slip out)."""
    from assets.leap_hand import LEAP_HAND

    closed = [f"{finger}_{joint}" for finger in ("index", "middle", "ring", "pinky") for joint in ("mcp", "pip")]
    closed += ["thumb_mcp", "thumb_dip"]
    orca = np.array([1.0 if name in closed else 0.0 for name in ORCA_HAND.joint_names])
    assert _close_and_release("Orca-Cube-Rotate-v0", orca) < 0.02
    # under MuJoCo's default (pyramidal) cones the same pinch lets the cube slide out
    assert _close_and_release("Orca-Cube-Rotate-v0", orca, soft_contacts=True) > 0.06
    assert _close_and_release("Leap-Cube-Rotate-v0", 1.1 * np.array(LEAP_HAND.synergies["wrap"])) < 0.02


def test_the_drop_penalty_is_paid_once_on_the_drop_and_off_by_default():
    """Without the platform and with the hand at rest the cube falls; the switchable drop term costs its weight
    on exactly the step that ends the episode, and nothing else changes."""
    rewards_of = {}
    for weight in (0.0, -100.0):
        env = make_env("Orca-Cube-Rotate-v0", num_envs=2, seed=0, num_threads=1, platform_support_s=0.0,
                       **{"rewards.drop": weight})  # fmt: skip
        env.reset()
        rewards, dones = [], []
        for _ in range(40):
            _, reward, done, extras = env.step(torch.zeros(env.num_envs, env.num_actions))
            rewards.append(reward)
            dones.append(done & ~extras["time_outs"])
        rewards_of[weight] = torch.stack(rewards)
    dropped = torch.stack(dones)
    assert dropped.any()  # the cube fell in both runs alike
    difference = rewards_of[-100.0] - rewards_of[0.0]
    torch.testing.assert_close(difference, -100.0 * dropped.float())


def test_the_gravity_curriculum_moves_one_level_per_episode_on_a_synthetic_sequence():
    from isaac_tasks.cube_rotate.cube_env import next_gravity_levels

    # (played past the platform, dropped) per ended episode of one environment, 4 levels, starting weightless
    outcomes = [(1, 0), (1, 0), (1, 1), (0, 0), (1, 0), (1, 0), (1, 0), (1, 0), (1, 1), (1, 1), (1, 1), (1, 1)]
    level, found = torch.tensor([0]), []
    for played, dropped in outcomes:
        level = next_gravity_levels(level, torch.tensor([bool(played)]), torch.tensor([bool(dropped)]), 4)
        found.append(int(level))
    assert found == [1, 2, 1, 1, 2, 3, 4, 4, 3, 2, 1, 0]
    assert int(next_gravity_levels(torch.tensor([0]), torch.tensor([True]), torch.tensor([True]), 4)) == 0


def _gravity_z(env) -> np.ndarray:
    return env.physics.batch.expand("opt.gravity")[:, 2].copy()


def test_the_gravity_curriculum_in_the_task():
    """Off by default; on, a held episode raises its environment's gravity by a level and a drop lowers it, the
    rollout logs the gravity its episodes were played at, and a checkpoint's state carries the level on."""
    settings = {"curriculum.enabled": True, "curriculum.levels": 4, "randomization.gravity_noise_std": 0.0}
    off = make_env("Orca-Cube-Rotate-v0", num_envs=1, seed=0)
    assert off.gravity_level.tolist() == [off.cfg.curriculum.levels] and off.training_state() == {}  # full gravity

    weightless = make_env("Orca-Cube-Rotate-v0", num_envs=2, seed=0, num_threads=1, platform_support_s=0.0,
                          episode_length_s=0.5, **settings)  # fmt: skip
    assert np.all(_gravity_z(weightless) == 0.0)
    for _ in range(10):  # one episode: the cube floats where it was, nothing drops
        _, _, done, extras = weightless.step(torch.zeros(weightless.num_envs, weightless.num_actions))
    assert done.all() and extras["log"]["Curriculum/gravity_scale"].tolist() == [0.0, 0.0]
    assert weightless.gravity_level.tolist() == [1, 1]
    np.testing.assert_allclose(_gravity_z(weightless), -9.81 / 4)
    assert weightless.training_state() == {"gravity_level": 1.0}

    full = make_env("Orca-Cube-Rotate-v0", num_envs=1, seed=0, num_threads=1, platform_support_s=0.0,
                    **{**settings, "curriculum.start_level": 4})  # fmt: skip
    for _ in range(40):  # without the platform the cube falls out of the resting hand
        _, _, done, extras = full.step(torch.zeros(full.num_envs, full.num_actions))
        if done.any():
            break
    assert not extras["time_outs"].any() and full.gravity_level.tolist() == [3]
    np.testing.assert_allclose(_gravity_z(full), -9.81 * 3 / 4)
    full.load_training_state(weightless.training_state())
    assert full.gravity_level.tolist() == [1]


def test_a_checkpoint_carries_the_curriculum_level_into_the_resumed_run(tmp_path):
    from agents.ppo_runner import PPORunner
    from isaac_tasks import make_agent_cfg

    settings = {"num_envs": 2, "seed": 0, "num_threads": 1, "curriculum.enabled": True, "curriculum.levels": 4}
    trained = make_env("Orca-Cube-Rotate-v0", **settings)
    trained.gravity_level.fill_(3)
    PPORunner(trained, make_agent_cfg("Orca-Cube-Rotate-v0"), task="Orca-Cube-Rotate-v0").save(str(tmp_path / "m.pt"))
    resumed = make_env("Orca-Cube-Rotate-v0", **settings)
    assert resumed.gravity_level.tolist() == [0, 0]
    PPORunner(resumed, make_agent_cfg("Orca-Cube-Rotate-v0"), task="Orca-Cube-Rotate-v0").load(str(tmp_path / "m.pt"))
    assert resumed.gravity_level.tolist() == [3, 3]
    # an evaluation of that checkpoint plays at the levels it is told, not at the training run's
    from agents.ppo_runner import load_policy

    evaluated = make_env("Orca-Cube-Rotate-v0", **settings)
    load_policy(evaluated, "Orca-Cube-Rotate-v0", str(tmp_path / "m.pt"), make_agent_cfg("Orca-Cube-Rotate-v0"))
    assert evaluated.gravity_level.tolist() == [0, 0]
