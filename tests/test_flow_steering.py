"""The latent and residual action spaces of the flow prior (Table 2) on Leap-Grasp-v0."""

import os
import subprocess
import sys

import pytest
import torch

from agents import prior_data
from agents.flow_matching import FlowPrior
from agents.ppo_runner import PPORunner
from isaac_tasks import make_agent_cfg, make_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE_2 = {"rfs_hand": 54, "rfs_hand_arm": 68, "dsrl_hand": 38, "dsrl_hand_arm": 46, "residual_hand_arm": 22}


@pytest.fixture(scope="module")
def priors(tmp_path_factory):
    """Small untrained priors of both variants (the mapping, not the skill, is under test)."""
    folder = tmp_path_factory.mktemp("priors")
    paths = {}
    for variant, dims in prior_data.VARIANTS.items():
        model = FlowPrior(horizon=2, hidden_dims=(32, 32), **dims)
        generator = torch.Generator().manual_seed(0)
        cond = torch.randn(64, dims["cond_dim"], generator=generator)
        model.fit_normalization(cond, 0.3 * torch.randn(64, 2, dims["action_dim"], generator=generator))
        paths[variant] = str(folder / f"{variant}.pt")
        model.save(paths[variant], {"task": "Leap-Grasp-v0", "variant": variant})
    return paths


def env_for(space, priors, num_envs=4):
    variant = "hand" if space.endswith("_hand") else "hand_arm"
    return make_env("Leap-Grasp-v0", num_envs=num_envs, action_space=space, prior_checkpoint=priors[variant])


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


@pytest.mark.parametrize("space", ["rfs_hand", "rfs_hand_arm"])
def test_zero_latent_and_residual_execute_the_deterministic_push(priors, space):
    env = env_for(space, priors)
    space_ = env.action_space
    arm, fingers = space_(torch.zeros(env.num_envs, env.num_actions))
    cond = prior_data.env_condition(space_.variant, env)
    pushed = space_.prior.push(cond, torch.zeros(env.num_envs, 2, space_.action_dim))[:, 0]
    prior_arm, prior_fingers = prior_data.arm_and_fingers(space_.variant, pushed, env.cfg.arm_rotation_limit)
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
def test_each_space_trains_with_the_real_runner(priors, space):
    env = env_for(space, priors, num_envs=8)
    cfg = make_agent_cfg("Leap-Grasp-v0")
    cfg["num_steps_per_env"] = 8
    runner = PPORunner(env, cfg, task="Leap-Grasp-v0")
    before = [p.clone() for p in runner.alg.get_policy().parameters()]
    runner.learn(num_learning_iterations=2)
    assert any(not torch.equal(a, b) for a, b in zip(before, runner.alg.get_policy().parameters(), strict=True))


def test_training_starts_with_zero_residual(priors, tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--task", "Leap-Grasp-v0", "--num_envs", "4",
         "--max_iterations", "1", "--action_space", "rfs_hand", "--prior_checkpoint", priors["hand"]],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (checkpoint,) = tmp_path.glob("logs/rsl_rl/leap_grasp/*/model_0.pt")
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["infos"]["action_space"] == "rfs_hand" and saved["infos"]["prior_checkpoint"] == priors["hand"]
    weights = [v for k, v in saved["actor_state_dict"].items() if k.startswith("mlp.") and k.endswith("weight")]
    # one PPO iteration moves the zeroed rows only a little: the residual starts near zero
    assert weights[-1][-16:].abs().max() < 0.05 < weights[-1][:-16].abs().max()
