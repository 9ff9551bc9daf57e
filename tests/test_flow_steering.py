"""The latent and residual action spaces of the flow prior (Table 2) on Leap-Grasp-v0."""

import json
import os
import subprocess
import sys

import pytest
import torch

from isaac_tasks import make_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE_2 = {
    "rfs_hand": 54,
    "rfs_chunk_hand": 54,
    "rfs_hand_arm": 68,
    "dsrl_hand": 38,
    "dsrl_hand_arm": 46,
    "residual_hand_arm": 22,
}


def env_for(space, priors, num_envs=4, **overrides):
    variant = "hand_arm" if space.endswith("hand_arm") else "hand"
    return make_env(
        "Leap-Grasp-v0", num_envs=num_envs, action_space=space, prior_checkpoint=priors[variant], **overrides
    )


@pytest.mark.parametrize("space", TABLE_2)
def test_policy_outputs_of_table_2_size_become_valid_commands(priors, space):
    env = env_for(space, priors)
    assert env.num_actions == TABLE_2[space]
    arm, fingers = env.action_space(10 * torch.randn(env.num_envs, env.num_actions))
    assert arm.shape == (env.num_envs, 6) and arm.abs().max() <= 1.0
    low, high = env.finger_limits.unbind(-1)
    assert ((fingers >= low - 1e-6) & (fingers <= high + 1e-6)).all()
    _, reward, _, _ = env.step(torch.randn(env.num_envs, env.num_actions))
    assert torch.isfinite(reward).all()


@pytest.mark.parametrize(("space", "prior_num_steps"), [("rfs_hand", 2), ("rfs_hand_arm", 2), ("rfs_hand_arm", 0)])
def test_zero_latent_and_residual_execute_the_deterministic_push(priors, space, prior_num_steps):
    env = env_for(space, priors, prior_num_steps=prior_num_steps)
    space_ = env.action_space
    assert space_.num_steps == (prior_num_steps or space_.prior.num_steps)
    arm, fingers = space_(torch.zeros(env.num_envs, env.num_actions))
    cond = env.prior_io.env_condition(space_.variant, env)
    a0 = torch.zeros(env.num_envs, 2, space_.action_dim)
    pushed = space_.prior.push(cond, a0, prior_num_steps or None)[:, 0]
    prior_arm, prior_fingers = env.prior_io.arm_and_fingers(space_.variant, pushed)
    low, high = env.finger_limits.unbind(-1)
    torch.testing.assert_close(fingers, torch.clamp(prior_fingers, low, high))
    torch.testing.assert_close(arm, torch.zeros_like(arm) if prior_arm is None else prior_arm)


def test_latent_squashing_respects_the_bound(priors):
    env = env_for("dsrl_hand_arm", priors)
    bound = env.cfg.latent_bound
    latent = env.action_space.latent(1e4 * torch.randn(env.num_envs, env.num_actions))
    assert latent.abs().max() <= bound and latent.abs().max() > 0.99 * bound
    small = 1e-3 * torch.ones(env.num_envs, env.num_actions)
    torch.testing.assert_close(env.action_space.latent(small), small.view_as(latent), rtol=1e-4, atol=1e-7)


def test_missing_or_mismatched_prior_is_refused(priors):
    with pytest.raises(ValueError, match="needs a 'hand' flow prior: set prior_checkpoint"):
        make_env("Leap-Grasp-v0", num_envs=2, action_space="rfs_hand")
    with pytest.raises(ValueError, match="is a 'hand_arm' prior .* needs a 'hand' prior"):
        make_env("Leap-Grasp-v0", num_envs=2, action_space="rfs_hand", prior_checkpoint=priors["hand_arm"])
    with pytest.raises(ValueError, match="not found|no such|missing"):
        make_env("Leap-Grasp-v0", num_envs=2, action_space="dsrl_hand", prior_checkpoint="/nowhere/prior.pt")


@pytest.mark.parametrize("space", TABLE_2)
def test_each_space_trains_with_the_real_runner(priors, space, trains_with_runner):
    assert trains_with_runner(env_for(space, priors, num_envs=8), num_steps_per_env=8, iterations=2)


@pytest.fixture(scope="module")
def rfs_run(priors, tmp_path_factory):
    """(working folder, model_0.pt) of one train.py iteration of rfs_hand."""
    cwd = tmp_path_factory.mktemp("rfs_run")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--task", "Leap-Grasp-v0", "--num_envs", "4",
         "--max_iterations", "1", "--action_space", "rfs_hand", "--prior_checkpoint", priors["hand"],
         "--env", "latent_bound=2.0", "residual_finger_scale=0.05"],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (checkpoint,) = cwd.glob("logs/rsl_rl/leap_grasp/*/model_0.pt")
    return cwd, checkpoint


def test_training_starts_with_zero_residual(priors, rfs_run):
    saved = torch.load(rfs_run[1], weights_only=True)
    assert saved["infos"]["action_space"] == "rfs_hand" and saved["infos"]["prior_checkpoint"] == priors["hand"]
    weights = [v for k, v in saved["actor_state_dict"].items() if k.startswith("mlp.") and k.endswith("weight")]
    # one PPO iteration moves the zeroed rows only a little: the residual starts near zero, with a small std
    assert weights[-1][-16:].abs().max() < 0.05 < weights[-1][:-16].abs().max()
    std = saved["actor_state_dict"]["distribution.log_std_param"].exp()
    torch.testing.assert_close(std[-16:], torch.full((16,), 0.2), atol=0.02, rtol=0)
    torch.testing.assert_close(std[:-16], torch.full((38,), 0.6), atol=0.05, rtol=0)


def test_a_checkpoint_records_the_settings_its_actions_need(rfs_run):
    """Every setting that gives the policy's outputs their meaning comes back on replay, from the task (the arm's
    step limits) and from its action space (the latent bound and residual scales set for this run), and nothing
    else of the run's config."""
    from agents.ppo_runner import env_overrides

    infos = torch.load(rfs_run[1], weights_only=True)["infos"]
    overrides = env_overrides(infos)
    assert overrides["latent_bound"] == 2.0 and overrides["residual_finger_scale"] == 0.05
    assert overrides["action_space"] == "rfs_hand" and overrides["arm_translation_limit"] == 0.03
    assert "num_envs" not in overrides and "seed" not in overrides
    earlier = {key: value for key, value in infos.items() if key != "action_settings"}  # written before they named them
    assert env_overrides(earlier) == {
        key: infos[key] for key in ("action_space", "prior_checkpoint", "prior_num_steps")
    }


def test_an_evaluation_may_override_a_recorded_action_setting(rfs_run, tmp_path):
    """An ablation (the residual turned off) evaluates with the command line's setting, not the checkpoint's."""
    out = tmp_path / "report"
    args = ["--task", "Leap-Grasp-v0", "--checkpoint", str(rfs_run[1]), "--num_envs", "2", "--episodes", "2"]
    args += ["--sweep", "1", "--sweep_episodes", "2", "--out", str(out), "--env", "residual_finger_scale=0.0"]
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "evaluate.py"), *args], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads((out / "report.json").read_text())["checkpoints"].values()
    assert entry["settings"]["residual_finger_scale"] == 0.0


def test_a_shipped_checkpoint_replays_from_its_own_folder(priors, rfs_run, tmp_path):
    from agents.ppo_runner import read_checkpoint

    tools = os.path.join(ROOT, "tools")
    shipped = tmp_path / "shipped" / "rfs.pt"
    ship = [sys.executable, os.path.join(tools, "ship_checkpoint.py"), "--task", "Leap-Grasp-v0"]
    result = subprocess.run(
        [*ship, "--checkpoint", str(rfs_run[1]), "--out", str(shipped)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert torch.load(shipped, weights_only=True)["infos"]["prior_checkpoint"] == "hand.pt"
    assert read_checkpoint(str(shipped))["infos"]["prior_checkpoint"] == str(tmp_path / "shipped" / "hand.pt")
    assert (tmp_path / "shipped" / "hand.pt").read_bytes() == open(priors["hand"], "rb").read()
    umask = os.umask(0)
    os.umask(umask)
    for written in (shipped, tmp_path / "shipped" / "hand.pt"):  # not private, as mkstemp would leave them
        assert written.stat().st_mode & 0o777 == 0o666 & ~umask
    result = subprocess.run(
        [sys.executable, os.path.join(tools, "evaluate.py"), "--task", "Leap-Grasp-v0", "--checkpoint", str(shipped),
         "--num_envs", "4", "--episodes", "4", "--sweep", "1", "--sweep_episodes", "4", "--out", str(tmp_path / "eval")],
        cwd=rfs_run[0], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # a different file of the prior's name already beside the target is refused, and nothing is written
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "hand.pt").write_bytes(b"not this prior")
    result = subprocess.run(
        [*ship, "--checkpoint", str(rfs_run[1]), "--out", str(tmp_path / "other" / "rfs.pt")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "exists and differs" in result.stderr
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["hand.pt"]


def test_rfs_chunk_steps_twice_sums_rewards_and_restarts_after_a_reset(priors):
    env = env_for("rfs_chunk_hand", priors)
    inner, space = env.env, env.action_space
    rewards, executed = [], []
    step = inner.step

    def recording_step(actions):
        result = step(actions)
        rewards.append(result[1].clone())
        executed.append(inner.finger_targets.clone())
        return result

    inner.step = recording_step
    actions = 0.3 * torch.randn(env.num_envs, env.num_actions)
    inner.episode_length_buf[1] = inner.max_episode_length - 1  # environment 1 times out at the first sub-step
    before = inner.episode_length_buf.clone()
    _, reward, dones, extras = env.step(actions)
    assert len(rewards) == 2  # one decision, two control steps
    others = torch.tensor([0, 2, 3])
    assert (inner.episode_length_buf[others] == before[others] + 2).all()
    torch.testing.assert_close(reward[others], rewards[0][others] + rewards[1][others])
    assert dones.tolist() == [False, True, False, False] and extras["time_outs"][1]
    torch.testing.assert_close(reward[1], rewards[0][1])  # nothing from its next episode
    assert inner.episode_length_buf[1] == 1 and space.chunk_start[1] == 1  # new chunk from the new state
    assert not torch.equal(executed[0][0], executed[1][0])  # the second predicted step differs from the first


def test_pca_reconstructs_its_demonstrations_and_drives_the_hand(demos, trains_with_runner):
    from agents.demonstrations import load_demos
    from agents.pca import FingerPCA

    fingers = torch.cat([torch.from_numpy(e.actions[:, 6:]) for e in load_demos(demos, "Leap-Grasp-v0")]).float()
    pca = FingerPCA(fingers, num_components=4)
    error = (pca.decode(pca.encode(fingers)) - fingers).pow(2).mean().sqrt()
    assert error < 0.05  # rad RMS over every demonstrated finger target
    env = make_env("Leap-Grasp-v0", num_envs=8, action_space="pca", demos_path=demos)
    assert env.num_actions == 6 + 4
    _, fingers_cmd = env.action_space(10 * torch.randn(env.num_envs, env.num_actions))
    low, high = env.finger_limits.unbind(-1)
    assert ((fingers_cmd >= low - 1e-6) & (fingers_cmd <= high + 1e-6)).all()
    assert trains_with_runner(env, num_steps_per_env=8, iterations=1)
    with pytest.raises(ValueError, match="needs demonstrations"):
        make_env("Leap-Grasp-v0", num_envs=2, action_space="pca")


def small_prior(path, variant, horizon=2, cond_dim=None):
    """An untrained prior saved at `path` (cond_dim overrides today's condition width, e.g. an old prior's)."""
    from agents.flow_matching import FlowPrior
    from isaac_tasks import make_prior_io

    dims = {**make_prior_io("Leap-Grasp-v0").variants[variant], **({"cond_dim": cond_dim} if cond_dim else {})}
    FlowPrior(horizon=horizon, hidden_dims=(16,), **dims).save(str(path), {"task": "Leap-Grasp-v0", "variant": variant})
    return str(path)


def test_hand_arm_condition_tells_objects_apart(priors):
    env = env_for("rfs_hand_arm", priors)
    s, geometry = env.physics.state, env.object_geometry
    names = [env.objects[int(i)].name for i in env.object_index]
    assert geometry.shape == (env.num_envs, 8) and len(set(names)) == env.num_envs
    for i, obj in enumerate(env.objects[: env.num_envs]):  # environment i holds object i
        assert geometry[i, :3].tolist() == pytest.approx(list(obj.size))
        assert geometry[i, 3:].sum() == 1 and geometry[i, 3:].argmax() == env.object_properties[i, 4]
    io = env.prior_io
    cond = io.env_condition("hand_arm", env)
    assert cond.shape == (env.num_envs, io.variants["hand_arm"]["cond_dim"]) == (env.num_envs, 61)
    torch.testing.assert_close(cond[:, 7:15], geometry)
    # the same robot state and object pose with two different objects: two different conditions
    same = lambda x: x[:1].expand(2, -1)  # noqa: E731
    pose = torch.cat((s.body_pos[:, 0], s.body_quat[:, 0]), -1)
    two = io.condition("hand_arm", same(s.joint_pos), same(s.joint_vel), same(pose), geometry[:2])
    assert not torch.equal(two[0], two[1]) and torch.equal(two[0, 15:], two[1, 15:])
    # the paper's hand prior sees the finger joints only
    torch.testing.assert_close(io.env_condition("hand", env), s.joint_pos[:, 7:])


def test_a_prior_with_the_old_condition_is_refused_in_one_line(tmp_path):
    old = small_prior(tmp_path / "old.pt", "hand_arm", cond_dim=53)
    with pytest.raises(ValueError) as error:
        make_env("Leap-Grasp-v0", num_envs=2, action_space="rfs_hand_arm", prior_checkpoint=old)
    message = str(error.value)
    assert "\n" not in message and old in message and "'cond_dim': 53" in message and "'cond_dim': 61" in message
    assert "retrain it with tools/train_prior.py" in message


def test_spaces_follow_the_horizon_of_their_prior(tmp_path):
    """A prior of horizon 3: the latent covers 3 steps; rfs_chunk_hand executes 3 steps per decision."""
    paths = {v: small_prior(tmp_path / f"{v}.pt", v, horizon=3) for v in ("hand", "hand_arm")}
    sizes = {"rfs_hand": 6 + 16 * 3 + 16, "dsrl_hand_arm": 23 * 3, "residual_hand_arm": 22, "rfs_chunk_hand": 70}
    for space, size in sizes.items():
        env = env_for(space, paths, num_envs=2)
        assert env.num_actions == size and env.action_space.latent(torch.zeros(2, size)).shape[1] == 3
        _, reward, _, _ = env.step(torch.randn(env.num_envs, env.num_actions))
        assert torch.isfinite(reward).all()
    assert env.chunk_length == 3 and env.env.episode_length_buf.tolist() == [3, 3]  # rfs_chunk_hand, last
