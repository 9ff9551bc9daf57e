"""The two original tasks step exactly as they did before the task layer was restructured (issue 15): for a
fixed seed and fixed actions, every reward and a fingerprint of every observation match values recorded
from the code before the change (tests/golden/task_steps.json; `python tests/test_task_regression.py`
records them again, for a deliberate change of behaviour)."""

import json
import os
import sys

import pytest
import torch

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "task_steps.json")
TASKS = ("Leap-Grasp-v0", "Orca-Cube-Rotate-v0")
STEPS = 16  # two episodes and a half: resets inside


def fingerprint(task: str) -> dict:
    """Rewards (steps x envs) and per-step observation sums and absolute sums of 4 environments under fixed
    random actions, in episodes of 6 control steps."""
    from isaac_tasks import make_env

    env = make_env(task, num_envs=4, seed=0, num_threads=1, episode_length_s=0.3)
    generator = torch.Generator().manual_seed(0)
    obs = env.reset()
    rewards, observations = [], []
    for _ in range(STEPS):
        actions = 2 * torch.rand(env.num_envs, env.num_actions, generator=generator) - 1
        obs, reward, _, _ = env.step(actions)
        policy = obs["policy"].double()
        rewards.append(reward.double().tolist())
        observations.append([policy.sum().item(), policy.abs().sum().item()])
    return {"rewards": rewards, "observations": observations}


@pytest.mark.parametrize("task", TASKS)
def test_task_steps_as_before(task):
    with open(GOLDEN) as f:
        golden = json.load(f)[task]
    found = fingerprint(task)
    torch.testing.assert_close(torch.tensor(found["rewards"]), torch.tensor(golden["rewards"]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        torch.tensor(found["observations"]), torch.tensor(golden["observations"]), rtol=1e-5, atol=1e-4
    )


@pytest.mark.parametrize("task", TASKS)
def test_ended_episodes_report_their_last_observation(task):
    from isaac_tasks import make_env

    env = make_env(task, num_envs=3, seed=0, num_threads=1, episode_length_s=0.3)  # 6 control steps
    env.reset()
    zero = torch.zeros(env.num_envs, env.num_actions)
    for _ in range(5):
        obs, _, dones, extras = env.step(zero)
        assert not dones.any() and "final_obs" not in extras
    last = env.get_observations()["policy"].clone()
    obs, _, dones, extras = env.step(zero)  # the time limit: every episode ends and resets
    assert dones.all() and extras["time_outs"].all() and (env.episode_length_buf == 0).all()
    final = extras["final_obs"]["policy"]
    assert not torch.equal(final, obs["policy"])  # the last observation of the episode, not the reset one
    assert not torch.equal(final, last)  # one step on from the step before


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(GOLDEN, "w") as f:
        json.dump({task: fingerprint(task) for task in TASKS}, f, indent=1)
    print(f"Wrote {GOLDEN}")
