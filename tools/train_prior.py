"""Train a conditional flow-matching prior on demonstrations, then evaluate it alone as the policy
(success, and the fraction of episodes whose fingers went more than 0.5 cm through each other).

    python tools/train_prior.py --demos demos/leap_grasp.hdf5 --variant hand_arm --num_steps 20000

The task is the one the demonstrations name. Logs (TensorBoard), checkpoints prior_<step>.pt, params.json,
the evaluation (eval.json) and the Fig. 7 style plot of the predicted steps for several latents
(latents.png) go to logs/flow_prior/<variant>/<timestamp>/ (agents/prior_training.py). `--resume` continues
the latest run (or a given run folder or checkpoint) up to --num_steps with a fresh optimizer.

The prior predicts --horizon consecutive actions (2 as the paper). Evaluated alone it executes them as a
chunk: each environment samples a0 ~ N(0, I) once per chunk and executes the predicted actions one after
the other, re-planning every --horizon steps. The hand prior has no arm: its evaluation moves the arm with
the scripted demonstrator's arm motion. With --video [PATH] (and the other video flags of tools/cli.py)
the first environments of that evaluation are filmed, by default to <run folder>/prior.mp4.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from datetime import datetime

import cli

import torch

from agents import prior_data
from agents.demonstrations import demo_task
from agents.flow_matching import FlowPrior
from agents.ppo_runner import CheckpointError, remove_stale_temporaries
from agents.prior_training import PriorTrainingCfg, train_prior
from isaac_tasks import make_prior_io


def main() -> None:
    defaults = PriorTrainingCfg()
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demos", type=cli.existing_file, required=True, help="HDF5 demonstration file (agents/demonstrations.py)")  # fmt: skip
    parser.add_argument("--include_failed", action="store_true", help="train on failed demonstrations too (default: successes only)")  # fmt: skip
    parser.add_argument("--variant", default=defaults.variant, help="the prior variant (hand, hand_arm)")
    parser.add_argument("--horizon", type=cli.positive_int, help=f"actions predicted per sample and executed as a chunk (default {prior_data.HORIZON} as the paper; with --resume the checkpoint's)")  # fmt: skip
    parser.add_argument("--num_steps", type=cli.positive_int, default=defaults.num_steps, help="gradient steps in total")  # fmt: skip
    parser.add_argument("--batch_size", type=cli.positive_int, default=defaults.batch_size)
    parser.add_argument("--lr", type=cli.positive_float, default=defaults.lr)
    parser.add_argument("--save_interval", type=cli.positive_int, default=defaults.save_interval)
    parser.add_argument("--seed", type=cli.non_negative_int, default=defaults.seed)
    parser.add_argument("--resume", nargs="?", const="latest", help="checkpoint, run folder, or none: latest run")
    parser.add_argument("--log_root", default=os.path.join("logs", "flow_prior"))
    parser.add_argument("--eval_episodes", type=cli.non_negative_int, default=defaults.eval_episodes, help="0 skips the evaluation")  # fmt: skip
    parser.add_argument("--num_envs", type=cli.positive_int, default=defaults.num_envs)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=defaults.num_threads)
    cli.add_video_args(parser)
    args = parser.parse_args()
    cfg = PriorTrainingCfg(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PriorTrainingCfg)})
    if args.video is not None and not args.eval_episodes:
        raise ValueError("--video films the evaluation: it needs --eval_episodes > 0")
    variant_dir = cli.output_path(os.path.join(args.log_root, args.variant), "--log_root", folder=True)
    path = cli.find_checkpoint(args.resume, variant_dir, "prior_") if args.resume else None
    log_dir = os.path.dirname(os.path.abspath(path)) if path else os.path.join(variant_dir, datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))  # fmt: skip
    video = cli.video_options(args, default_path=os.path.join(log_dir, "prior.mp4"))
    task = demo_task(args.demos)
    io = make_prior_io(task)
    prior_data.check_variant(io, args.variant)

    torch.manual_seed(args.seed)  # the new model's initialization
    start = 0
    if path:
        model, metadata = FlowPrior.load(path)
        prior_data.check_prior(path, model.config, metadata, task, io, args.variant, f"--variant {args.variant}")
        if args.horizon is not None and args.horizon != model.horizon:
            raise CheckpointError(f"{path} predicts {model.horizon} steps, not --horizon {args.horizon}")
        start = int(metadata["step"])
        remove_stale_temporaries(log_dir)
        print(f"Resuming from {path} at step {start}")
    else:
        model = FlowPrior(horizon=args.horizon or prior_data.HORIZON, **io.variants[args.variant])
    with cli.new_run_folder(log_dir, "prior_*.pt"):
        train_prior(cfg, task, args.demos, model, log_dir, start, video, params=vars(args))
    print(f"Done: checkpoints, latents.png and eval.json in {log_dir}")


if __name__ == "__main__":
    cli.run_main(main)
