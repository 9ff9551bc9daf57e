"""Soaks, outside the test suite: long random and adversarial stepping, and long-running tools killed and resumed.

    python tools/soak.py steps --env_steps 1000000 --num_envs 256 --out soak_steps.json
    python tools/soak.py kills --task Leap-Grasp-v0 --kills 20 --out soak_kills.json

`steps` runs every task with four action patterns (isaac_tasks/evaluation/soak.py) and reports crashes,
non-finite observations or rewards, and diverged resets. `kills` starts training and demonstration generation
(of --task), distillation-data collection and DAgger (of --teacher), kills each with SIGKILL at random moments,
resumes it each time, lets the last run finish, and checks every file it left (agents/kill_soak.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cli

from agents.kill_soak import kills
from isaac_tasks import TASKS, make_env
from isaac_tasks.evaluation.soak import soak

TEACHER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "checkpoints", "leap_grasp_rfs_hand_arm.pt"
)


def steps(args: argparse.Namespace) -> dict:
    report = {"env_steps_per_task": args.env_steps, "num_envs": args.num_envs, "tasks": {}}
    for task in args.tasks:
        env = make_env(task, num_envs=args.num_envs, seed=args.seed)
        tic = time.perf_counter()
        report["tasks"][task] = soak(env, args.env_steps, args.seed)
        print(f"{task}: {time.perf_counter() - tic:.0f} s {report['tasks'][task]}", flush=True)
    return report


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    step_parser = commands.add_parser("steps", help="random and adversarial stepping of every task")
    step_parser.add_argument("--env_steps", type=cli.positive_int, default=1_000_000, help="per task")
    step_parser.add_argument("--num_envs", type=cli.positive_int, default=256)
    step_parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    kill_parser = commands.add_parser("kills", help="kill the long-running tools at random moments and resume them")
    kill_parser.add_argument("--task", required=True, choices=list(TASKS), help="the task to train and demonstrate")
    kill_parser.add_argument("--teacher", type=cli.existing_file, default=TEACHER, help="policy to distil")
    kill_parser.add_argument("--kills", type=cli.positive_int, default=20, help="kill attempts in all")
    kill_parser.add_argument("--min_s", type=cli.positive_float, default=3.0, help="earliest kill after a start")
    kill_parser.add_argument("--max_s", type=cli.positive_float, default=15.0, help="latest kill after a start")
    kill_parser.add_argument("--keep", action="store_true", help="keep the work folder")
    for sub in (step_parser, kill_parser):
        sub.add_argument("--seed", type=cli.non_negative_int, default=0)
        sub.add_argument("--out", type=cli.output_file, help="JSON file for the figures")
    args = parser.parse_args()
    if args.command == "kills" and args.min_s > args.max_s:
        raise ValueError("--min_s must not exceed --max_s")
    if args.command == "steps":
        report = steps(args)
    else:
        report = kills(args.task, args.teacher, args.kills, args.min_s, args.max_s, args.seed, args.keep)
    report["machine"] = cli.machine_info()
    cli.report_json(report, args.out)
    if report.get("problems") or any(
        row["crash"] or row["non_finite_steps"] for rows in report.get("tasks", {}).values() for row in rows.values()
    ):
        sys.exit(1)


if __name__ == "__main__":
    cli.run_main(main)
