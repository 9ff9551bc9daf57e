"""Evaluate checkpoints: task metrics over many episodes, penetration depth, robustness to disturbances.

    python tools/evaluate.py --task Leap-Grasp-v0 --checkpoint A/model_1499.pt B/model_1499.pt --out eval/

Writes report.json, report.md and PNG plots to --out (all at once, when every evaluation is done).
Episodes run with the task's external disturbances, as it trains (random torques on every joint every 2 to
5 steps; `--disturbance_scale` scales them, 0 turns them off); the robustness sweep then repeats the
evaluation at each scale of the task's nominal disturbance torques. Where the task measures penetration
(the grasping tasks), each episode's deepest finger-finger and hand-object depths are reported; an episode
whose fingers penetrate each other deeper than 0.5 cm is infeasible (paper 000, A.2.3).
A policy trained on one grasp family (`--grasp_type`) is evaluated on that family unless `--env` says
otherwise (`--env grasp_type=all`). `isaac_tasks/evaluation/report.py` does the work.
"""

from __future__ import annotations

import argparse
import os

import cli

from isaac_tasks import task_entry
from isaac_tasks.evaluation.report import SCRIPTED, evaluate_checkpoint, policy_infos, write_report


def parse_sweep(text: str) -> list[float]:
    values = [cli.non_negative_float(v) for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError("is empty: give at least one disturbance scale")
    return values


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_task_args(parser, num_envs=128)
    parser.add_argument(
        "--checkpoint",
        nargs="+",
        required=True,
        help=f"model_<N>.pt (train.py), student_<N>.pt (distill.py), prior_<N>.pt (train_prior.py: the prior alone) "
        f"or '{SCRIPTED}' (the task's scripted demonstrator)",
    )
    parser.add_argument(
        "--out", type=cli.output_folder, required=True, help="report folder (replaced when the evaluation is complete)"
    )
    parser.add_argument("--episodes", type=cli.positive_int, default=1024)
    parser.add_argument(
        "--disturbance_scale",
        type=cli.non_negative_float,
        default=1.0,
        help="scale of the task's joint disturbances in the main evaluation (1: as trained; 0: none)",
    )
    parser.add_argument("--sweep", type=parse_sweep, default=parse_sweep("0,1,2,4,8"), help="disturbance scales")
    parser.add_argument("--sweep_episodes", type=cli.positive_int, default=256, help="episodes per sweep point")
    cli.add_env_override_args(parser)
    args = parser.parse_args()
    task_entry(args.task)
    infos = {path: policy_infos(args.task, path) for path in args.checkpoint}  # every checkpoint, before any work

    reports, episodes = {}, {}
    for path in args.checkpoint:
        name = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(path))), os.path.basename(path))
        name = SCRIPTED if path == SCRIPTED else name
        print(f"Evaluating {name}")
        reports[name], episodes[name] = evaluate_checkpoint(
            args.task,
            path,
            infos[path],
            {**cli.task_overrides(args), **cli.env_config_overrides(args)},
            args.episodes,
            args.disturbance_scale,
            args.sweep,
            args.sweep_episodes,
        )
    with cli.staged_folder(args.out, replace=True) as staging:
        write_report(staging, args.task, reports, episodes)
    print(f"Report written to {args.out}")


if __name__ == "__main__":
    cli.run_main(main)
