"""Train a policy with rsl-rl PPO, headless.

    python tools/train.py --task Leap-Grasp-v0 --num_envs 256 --max_iterations 100 --seed 0

Logs, checkpoints and the resolved configs go to logs/rsl_rl/<experiment>/<timestamp>/ (agents/training.py).
`--resume` continues a run from its latest checkpoint (or from a given checkpoint file or run folder), in
that run's folder, up to --max_iterations in total. `--env KEY=VALUE` and `--agent KEY=VALUE` set the
task's and the runner's config.
"""

from __future__ import annotations

import argparse
import os

import cli

from agents.training import train
from isaac_tasks import make_agent_cfg, task_entry
from isaac_tasks.overrides import override_config


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_task_args(parser, num_envs=256)
    parser.add_argument("--max_iterations", type=cli.positive_int, help="total PPO iterations of the run")
    parser.add_argument("--save_interval", type=cli.positive_int, help="iterations between checkpoints (default: the task's, 50)")  # fmt: skip
    parser.add_argument("--resume", nargs="?", const="latest", help="checkpoint file, run folder, or none: latest run")
    parser.add_argument("--action_space", help="one of the task's action spaces (default: the task's own)")
    parser.add_argument("--prior_checkpoint", type=cli.existing_file, help="flow prior for the latent and residual action spaces")  # fmt: skip
    parser.add_argument("--demos_path", type=cli.existing_file, help="demonstrations for the pca action space")
    parser.add_argument("--vqvae_checkpoint", type=cli.existing_file, help="finger-motion VQ-VAE for the vqvae action space")  # fmt: skip
    parser.add_argument("--grasp_type", choices=("pinch", "power", "all"), help="object family (grasping tasks)")
    parser.add_argument("--experiment_name", help="folder under the log root (default: the task's)")
    parser.add_argument("--run_name", default="", help="suffix of the run folder")
    parser.add_argument("--log_root", default=os.path.join("logs", "rsl_rl"))
    cli.add_env_override_args(parser)
    parser.add_argument("--agent", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help="override the task's PPO runner config, e.g. algorithm.desired_kl=0.03 actor.hidden_dims=[512,256]")  # fmt: skip
    args = parser.parse_args()

    task_entry(args.task)
    settings = cli.task_overrides(args)
    for name in ("action_space", "grasp_type", "prior_checkpoint", "demos_path", "vqvae_checkpoint"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    settings.update(cli.env_config_overrides(args))
    agent_cfg = make_agent_cfg(args.task)
    agent_cfg["seed"], agent_cfg["run_name"] = args.seed, args.run_name
    for key in ("max_iterations", "save_interval", "experiment_name"):
        if getattr(args, key):
            agent_cfg[key] = getattr(args, key)
    for override in args.agent:
        override_config(agent_cfg, override, "--agent")
    if os.sep in args.run_name or args.run_name in (".", ".."):
        raise ValueError(f"--run_name {args.run_name}: must be a plain folder name")
    experiment_dir = cli.output_path(os.path.join(args.log_root, agent_cfg["experiment_name"]), "--log_root", True)
    resume_path = cli.find_checkpoint(args.resume, experiment_dir, "model_") if args.resume else None
    log_dir = train(args.task, settings, agent_cfg, experiment_dir, resume_path, args.device)
    if log_dir:
        print(f"Training finished: checkpoints and TensorBoard logs in {log_dir}")


if __name__ == "__main__":
    cli.run_main(main)
