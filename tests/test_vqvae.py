"""The VQ-VAE baseline: trained on real demonstrations, decoded as a two-step chunked action space."""

import os
import subprocess
import sys

import pytest
import torch

from agents.ppo_runner import CheckpointError
from agents.vqvae import FingerVQVAE, demo_pairs, train_vqvae
from isaac_tasks import make_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def vqvae(demos, tmp_path_factory):
    """(trained model, its checkpoint path, its final reconstruction errors)."""
    previous, targets = demo_pairs(demos, "Leap-Grasp-v0", 16)
    torch.manual_seed(0)
    model = FingerVQVAE(16, num_codes=16, hidden_dim=64)
    errors = train_vqvae(model, previous, targets, num_steps=400, batch_size=128, restart_interval=50,
                         generator=torch.Generator().manual_seed(0))  # fmt: skip
    path = str(tmp_path_factory.mktemp("vqvae") / "vqvae.pt")
    model.save(path, {"task": "Leap-Grasp-v0"})
    return model, path, errors


def test_vqvae_trains_and_decodes_the_demonstrations(demos, vqvae):
    model, _, errors = vqvae
    previous, targets = demo_pairs(demos, "Leap-Grasp-v0", 16)
    assert sum(errors[-20:]) < 0.5 * sum(errors[:20])
    with torch.no_grad():
        codes = model.quantize(model.encode(previous, targets))
        decoded = model.decode(previous, codes)
    assert codes.shape == (len(previous), 2, 8)
    assert ((codes[..., None, :] - model.codebook).abs().sum(-1).min(-1).values < 1e-6).all()  # codebook vectors
    rmse = (decoded - targets).pow(2).mean().sqrt()
    hold = (previous[:, None] - targets).pow(2).mean().sqrt()
    assert rmse < 0.6 * hold  # better than holding the previous pose, through a 16-code bottleneck


@pytest.mark.parametrize(("residual", "size"), [(True, 6 + 8 * 2 + 16), (False, 6 + 8 * 2)])
def test_action_space_decodes_two_steps_per_decision(vqvae, residual, size):
    model, path, _ = vqvae
    env = make_env("Leap-Grasp-v0", num_envs=4, action_space="vqvae", vqvae_checkpoint=path, vqvae_residual=residual)
    inner, space = env.env, env.action_space
    assert env.num_actions == size and env.chunk_length == 2
    actions = torch.zeros(env.num_envs, env.num_actions)
    actions[:, 6:22] = 2.0 * torch.rand(env.num_envs, 16) - 1.0
    pose = inner.physics.state.joint_pos[:, -16:].clone()
    executed = []
    step = inner.step
    inner.step = lambda a: (step(a), executed.append(inner.finger_targets.clone()))[0]
    env.step(actions)
    assert len(executed) == 2
    # zero residual: both executed steps are the decoded codebook motion from the pose at the decision
    latents = space.low + 0.5 * (actions[:, 6:22].view(-1, 2, 8) + 1.0) * (space.high - space.low)
    with torch.no_grad():
        planned = model.decode(pose, model.quantize(latents))
    low, high = inner.finger_limits.unbind(-1)
    for k in range(2):
        torch.testing.assert_close(executed[k], torch.clamp(planned[:, k], low, high))
    arm, fingers = space(10 * torch.randn(env.num_envs, env.num_actions))
    assert arm.abs().max() <= 1.0 and ((fingers >= low - 1e-6) & (fingers <= high + 1e-6)).all()


def test_vqvae_space_trains_with_the_real_runner(vqvae, trains_with_runner):
    env = make_env("Leap-Grasp-v0", num_envs=8, action_space="vqvae", vqvae_checkpoint=vqvae[1])
    assert trains_with_runner(env, num_steps_per_env=4, iterations=1)


def test_missing_corrupt_or_foreign_vqvae_is_refused(vqvae, tmp_path):
    with pytest.raises(ValueError, match="needs a VQ-VAE: set vqvae_checkpoint"):
        make_env("Leap-Grasp-v0", num_envs=2, action_space="vqvae")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable or corrupt"):
        make_env("Leap-Grasp-v0", num_envs=2, action_space="vqvae", vqvae_checkpoint=str(corrupt))
    foreign = tmp_path / "foreign.pt"
    vqvae[0].save(str(foreign), {"task": "Orca-Cube-Rotate-v0"})
    with pytest.raises(ValueError, match="is a VQ-VAE of Orca-Cube-Rotate-v0"):
        make_env("Leap-Grasp-v0", num_envs=2, action_space="vqvae", vqvae_checkpoint=str(foreign))


def test_train_vqvae_tool_writes_a_loadable_checkpoint(demos, tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "train_vqvae.py"), "--demos", demos, "--num_steps", "60",
         "--num_codes", "8", "--batch_size", "64", "--log_root", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (path,) = tmp_path.glob("*/vqvae.pt")
    model, metadata = FingerVQVAE.load(str(path))
    assert metadata["task"] == "Leap-Grasp-v0" and model.config["num_codes"] == 8
