import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def grasp_env():
    from isaac_tasks import make_env

    return make_env("Leap-Grasp-v0", num_envs=24, seed=3)


def tiny_priors(task: str, folder) -> dict[str, str]:
    """Small untrained flow priors of every variant of `task`, by variant name (for mappings, not skill)."""
    from agents.flow_matching import FlowPrior
    from isaac_tasks import make_prior_io

    paths = {}
    for variant, dims in make_prior_io(task).variants.items():
        model = FlowPrior(horizon=2, hidden_dims=(32, 32), **dims)
        generator = torch.Generator().manual_seed(0)
        cond = torch.randn(64, dims["cond_dim"], generator=generator)
        model.fit_normalization(cond, 0.3 * torch.randn(64, 2, dims["action_dim"], generator=generator))
        paths[variant] = str(folder / f"{variant}.pt")
        model.save(paths[variant], {"task": task, "variant": variant})
    return paths


@pytest.fixture(scope="session")
def priors(tmp_path_factory):
    return tiny_priors("Leap-Grasp-v0", tmp_path_factory.mktemp("priors"))


@pytest.fixture(scope="session")
def demos(tmp_path_factory):
    """A small real demonstration file written by tools/generate_demos.py."""
    folder = tmp_path_factory.mktemp("demos")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "generate_demos.py"), "--task", "Leap-Grasp-v0", "--num_demos", "8", "--num_envs", "8",
         "--out", str(folder / "d.hdf5")],
        cwd=folder, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return str(folder / "d.hdf5")


@pytest.fixture(scope="session")
def trains_with_runner():
    """Train `env` a few iterations with the real rsl-rl runner; returns whether the policy changed."""
    from agents.ppo_runner import PPORunner
    from isaac_tasks import make_agent_cfg

    def train(env, num_steps_per_env: int, iterations: int) -> bool:
        cfg = make_agent_cfg(env.cfg.task_id)
        cfg["num_steps_per_env"] = num_steps_per_env
        runner = PPORunner(env, cfg, task=env.cfg.task_id)
        before = [p.clone() for p in runner.alg.get_policy().parameters()]
        runner.learn(num_learning_iterations=iterations)
        return any(not torch.equal(a, b) for a, b in zip(before, runner.alg.get_policy().parameters(), strict=True))

    return train
