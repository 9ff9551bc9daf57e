"""A PPO training run of a task (rsl-rl through agents/ppo_runner.py), new or resumed, headless.

A new run lives in a staging folder `.<run>.partial-<pid>` until its first checkpoint, then moves to
<log_root>/<experiment>/<timestamp>[_<run_name>]/ (a run stopped before that leaves nothing behind; the
staging folders of killed runs are removed by the next run of the experiment). A resumed run continues in
its own folder up to the config's max_iterations. Every run writes its resolved configs to params/.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import shutil
from datetime import datetime

import time

import numpy as np
import torch

from agents.ppo_runner import PPORunner, check_ppo_cfg, read_checkpoint, remove_stale_temporaries
from isaac_tasks import make_agent_cfg, make_env, make_env_cfg
from isaac_tasks.physics.throughput import synchronize


def start_at_prior(runner: PPORunner, dims, std: float) -> None:
    """Start the actor's residual outputs `dims` at zero mean and exploration std `std`: training begins at
    the prior's behaviour, perturbed only a little where small corrections add up (the arm's deltas)."""
    if dims:
        policy = runner.alg.get_policy()
        dims = list(dims)
        with torch.no_grad():
            policy.mlp[-1].weight[dims] = 0.0
            policy.mlp[-1].bias[dims] = 0.0
            distribution = policy.distribution
            if distribution.std_type == "log":
                distribution.log_std_param[dims] = math.log(std)
            else:
                distribution.std_param[dims] = std


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def remove_dead_staging(experiment_dir: str) -> None:
    """Remove the staging folders of runs killed before their first checkpoint (their process is gone)."""
    for folder in glob.glob(os.path.join(experiment_dir, ".*.partial-*")):
        pid = folder.rsplit("-", 1)[1]
        if not (pid.isdigit() and int(pid) > 0 and process_alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)


def write_json(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2, default=str)


def train(
    task: str,
    env_settings: dict,
    agent_cfg: dict,
    experiment_dir: str,
    resume_path: str | None = None,
    device: str = "cpu",
) -> str | None:
    """Train (or resume from `resume_path`) under `experiment_dir` with the task's config plus `env_settings`
    and the runner config `agent_cfg`; returns the run folder, or None when the run had nothing left to do."""
    env_cfg = make_env_cfg(task, **env_settings)
    check_ppo_cfg(agent_cfg)
    if resume_path:
        read_checkpoint(resume_path, task=task)  # fail before building anything
    seed, run_name = agent_cfg["seed"], agent_cfg.get("run_name", "")
    torch.manual_seed(seed)
    np.random.seed(seed)
    env = make_env(task, **env_settings)
    publish_dir = None
    remove_dead_staging(experiment_dir)
    if resume_path:
        log_dir = os.path.dirname(os.path.abspath(resume_path))
        remove_stale_temporaries(log_dir)
    else:
        stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        log_dir = os.path.join(experiment_dir, stamp + (f"_{run_name}" if run_name else ""))
        if agent_cfg.get("logger", "tensorboard") == "tensorboard":  # staged until its first checkpoint
            publish_dir = log_dir
            log_dir = os.path.join(experiment_dir, f".{os.path.basename(publish_dir)}.partial-{os.getpid()}")
    runner = PPORunner(env, agent_cfg, task=task, log_dir=log_dir, device=device, publish_dir=publish_dir)
    if resume_path:
        runner.load(resume_path)
        print(f"Resuming from {resume_path} at iteration {runner.current_learning_iteration}")
    else:
        space = getattr(env, "action_space", None)
        start_at_prior(runner, getattr(space, "residual_dims", ()), getattr(env.cfg, "residual_init_std", 1.0))
    remaining = agent_cfg["max_iterations"] - runner.current_learning_iteration
    if remaining <= 0:
        print(f"Nothing to do: the run already has {runner.current_learning_iteration} iterations")
        return None
    try:
        write_json(os.path.join(log_dir, "params", "env.json"), {"task": task, **dataclasses.asdict(env_cfg)})
        write_json(os.path.join(log_dir, "params", "agent.json"), agent_cfg)
        print(f"Logging to {publish_dir or log_dir}")
        runner.learn(num_learning_iterations=remaining, init_at_random_ep_len=resume_path is None)
    finally:
        if publish_dir and os.path.isdir(log_dir):  # stopped before its first checkpoint: nothing to keep
            shutil.rmtree(log_dir)
    return runner.logger.log_dir


def ppo_throughput(env, task: str, iterations: int, seed: int, device: str) -> dict:
    """Env steps/s of PPO training end to end, and the seconds of rollout and of update per iteration."""
    agent_cfg = make_agent_cfg(task)
    agent_cfg["seed"] = seed
    runner = PPORunner(env, agent_cfg, task=task, log_dir=None, device=device)
    runner.learn(num_learning_iterations=1, init_at_random_ep_len=True)  # warm-up
    update, update_time = runner.alg.update, [0.0]

    def timed_update():
        tic = time.perf_counter()
        result = update()
        update_time[0] += time.perf_counter() - tic
        return result

    runner.alg.update = timed_update
    synchronize(env.device)
    tic = time.perf_counter()
    runner.learn(num_learning_iterations=iterations)
    synchronize(env.device)
    total = time.perf_counter() - tic
    return {
        "ppo_iterations": iterations,
        "ppo_env_steps_per_s": iterations * agent_cfg["num_steps_per_env"] * env.num_envs / total,
        "ppo_rollout_s_per_iteration": (total - update_time[0]) / iterations,
        "ppo_update_s_per_iteration": update_time[0] / iterations,
    }
