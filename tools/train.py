"""Train a policy with rsl-rl PPO, headless.

    python tools/train.py --task Leap-Grasp-v0 --num_envs 256 --max_iterations 100 --seed 0

Logs, checkpoints and the resolved configs go to logs/rsl_rl/<experiment>/<timestamp>/. `--resume`
continues a run from its latest checkpoint (or from a given checkpoint file or run folder), in that
run's folder, up to --max_iterations in total.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import math
import os
import shutil
from datetime import datetime

import cli

import numpy as np
import torch

from agents.ppo_runner import PPORunner, check_ppo_cfg, read_checkpoint
from isaac_tasks import make_agent_cfg, make_env, make_env_cfg, task_entry


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


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_task_args(parser, num_envs=256)
    parser.add_argument("--max_iterations", type=cli.positive_int, help="total PPO iterations of the run")
    parser.add_argument(
        "--save_interval", type=cli.positive_int, help="iterations between checkpoints (default: the task's, 50)"
    )
    parser.add_argument("--resume", nargs="?", const="latest", help="checkpoint file, run folder, or none: latest run")
    parser.add_argument(
        "--action_space",
        help="Leap-Grasp-v0: abs_joint, rel_joint, pca, rfs_hand, rfs_chunk_hand, rfs_hand_arm, dsrl_hand, "
        "dsrl_hand_arm, residual_hand_arm, vqvae",
    )
    parser.add_argument(
        "--prior_checkpoint", type=cli.existing_file, help="flow prior for the latent and residual action spaces"
    )
    parser.add_argument("--demos_path", type=cli.existing_file, help="demonstrations for the pca action space")
    parser.add_argument(
        "--vqvae_checkpoint", type=cli.existing_file, help="finger-motion VQ-VAE for the vqvae action space"
    )
    parser.add_argument("--grasp_type", choices=("pinch", "power", "all"), help="object family")
    parser.add_argument("--experiment_name", help="folder under the log root (default: the task's)")
    parser.add_argument("--run_name", default="", help="suffix of the run folder")
    parser.add_argument("--log_root", default=os.path.join("logs", "rsl_rl"))
    cli.add_env_override_args(parser)
    parser.add_argument(
        "--agent",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override the task's PPO runner config, e.g. algorithm.desired_kl=0.03 actor.hidden_dims=[512,256]",
    )
    args = parser.parse_args()

    task_entry(args.task)
    overrides = cli.task_overrides(args)
    if args.action_space is not None:
        overrides["action_space"] = args.action_space
    if args.grasp_type is not None:
        overrides["grasp_type"] = args.grasp_type
    for name in ("prior_checkpoint", "demos_path", "vqvae_checkpoint"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    overrides.update(cli.env_config_overrides(args))
    env_cfg = make_env_cfg(args.task, **overrides)
    agent_cfg = make_agent_cfg(args.task)
    agent_cfg["seed"] = args.seed
    agent_cfg["run_name"] = args.run_name
    if args.max_iterations is not None:
        agent_cfg["max_iterations"] = args.max_iterations
    if args.save_interval is not None:
        agent_cfg["save_interval"] = args.save_interval
    for override in args.agent:
        cli.override_config(agent_cfg, override, "--agent")
    if args.experiment_name:
        agent_cfg["experiment_name"] = args.experiment_name
    check_ppo_cfg(agent_cfg)
    if os.sep in args.run_name or args.run_name in (".", ".."):
        raise ValueError(f"--run_name {args.run_name}: must be a plain folder name")
    experiment_dir = cli.output_path(os.path.join(args.log_root, agent_cfg["experiment_name"]), "--log_root", True)

    resume_path = None
    if args.resume:
        resume_path = cli.find_checkpoint(args.resume, experiment_dir, "model_")
        read_checkpoint(resume_path, task=args.task)  # fail before building anything

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    env = make_env(args.task, **overrides)
    publish_dir = None
    remove_dead_staging(experiment_dir)
    if resume_path:
        log_dir = os.path.dirname(os.path.abspath(resume_path))
        cli.remove_stale_temporaries(log_dir)
    else:
        stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        log_dir = os.path.join(experiment_dir, stamp + (f"_{args.run_name}" if args.run_name else ""))
        if agent_cfg.get("logger", "tensorboard") == "tensorboard":  # staged until its first checkpoint
            publish_dir = log_dir
            log_dir = os.path.join(experiment_dir, f".{os.path.basename(publish_dir)}.partial-{os.getpid()}")
    runner = PPORunner(env, agent_cfg, task=args.task, log_dir=log_dir, device=args.device, publish_dir=publish_dir)
    if resume_path:
        runner.load(resume_path)
        print(f"Resuming from {resume_path} at iteration {runner.current_learning_iteration}")
    else:
        space = getattr(env, "action_space", None)
        start_at_prior(runner, getattr(space, "residual_dims", ()), getattr(env.cfg, "residual_init_std", 1.0))
    remaining = agent_cfg["max_iterations"] - runner.current_learning_iteration
    if remaining <= 0:
        print(f"Nothing to do: the run already has {runner.current_learning_iteration} iterations")
        return

    try:
        write_json(os.path.join(log_dir, "params", "env.json"), {"task": args.task, **dataclasses.asdict(env_cfg)})
        write_json(os.path.join(log_dir, "params", "agent.json"), agent_cfg)
        print(f"Logging to {publish_dir or log_dir}")
        runner.learn(num_learning_iterations=remaining, init_at_random_ep_len=resume_path is None)
    finally:
        if publish_dir and os.path.isdir(log_dir):  # stopped before its first checkpoint: nothing to keep
            shutil.rmtree(log_dir)
    print(f"Training finished: checkpoints and TensorBoard logs in {runner.logger.log_dir}")


if __name__ == "__main__":
    cli.run_main(main)
