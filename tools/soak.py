"""Soaks, outside the test suite: long random and adversarial stepping, and long-running tools killed and resumed.

    python tools/soak.py steps --env_steps 1000000 --num_envs 256 --out soak_steps.json
    python tools/soak.py kills --kills 20 --out soak_kills.json

`steps` runs every task with four action patterns (isaac_tasks/evaluation/soak.py) and reports crashes,
non-finite observations or rewards, and diverged resets. `kills` starts training, demonstration generation,
distillation-data collection and DAgger, kills each with SIGKILL at random moments, resumes it each time, lets
the last run finish, and then checks every file it left: checkpoints load with `weights_only=True`, datasets
open and hold what was asked, and nothing stray (temporaries, staging folders, shard folders) remains.
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import cli

import torch

from agents.demonstrations import load_demos
from distill.dataset import load_dataset
from isaac_tasks import TASKS, make_env
from isaac_tasks.evaluation.soak import soak

TOOLS = os.path.dirname(os.path.abspath(__file__))
TEACHER = os.path.join(os.path.dirname(TOOLS), "checkpoints", "leap_grasp_rfs_hand_arm.pt")
STRAY = (".tmp", ".partial", ".shards")
TRAIN_ITERATIONS = 16  # the run's last checkpoint is model_15.pt


def job_commands(work: str) -> dict[str, tuple[list[str], Callable[[], list[str]]]]:
    """Per tool: its command (small sizes) and a function giving the command that resumes it from `work`."""
    train_root = os.path.join(work, "train")
    distill_dir = os.path.join(work, "distill")
    train = ["train.py", "--task", "Leap-Grasp-v0", "--num_envs", "16", "--max_iterations", str(TRAIN_ITERATIONS)]
    train += ["--save_interval", "2", "--log_root", train_root]
    demos = [
        "generate_demos.py",
        "--task",
        "Leap-Grasp-v0",
        "--num_demos",
        "24",
        "--num_envs",
        "8",
        "--out",
        os.path.join(work, "demos.hdf5"),
    ]
    collect = ["collect_distill.py", "--teacher", TEACHER, "--num_demos", "12", "--num_envs", "8", "--max_rounds", "4"]
    collect += ["--num_points", "256", "--out", os.path.join(work, "collect")]
    distill = ["distill.py", "--teacher", TEACHER, "--num_envs", "8", "--iterations", "6", "--steps_per_iteration"]
    distill += ["16", "--updates_per_iteration", "5", "--save_interval", "1", "--num_points", "256"]
    distill += ["--log_dir", distill_dir]
    return {
        "train": (train, lambda: train + (["--resume"] if glob.glob(f"{train_root}/*/*/model_*.pt") else [])),
        "generate_demos": (demos, lambda: demos),  # resumes from its shards
        "collect_distill": (collect, lambda: collect),  # resumes from its shards
        "distill": (
            distill,
            lambda: distill + (["--resume", distill_dir] if glob.glob(f"{distill_dir}/student_*.pt") else []),
        ),
    }


def run(command: list[str], kill_after: float | None) -> str:
    """Run `tools/<command>`; with `kill_after`, SIGKILL it then. Returns 'killed', 'finished' or 'failed: ...'."""
    process = subprocess.Popen(
        [sys.executable, os.path.join(TOOLS, command[0]), *command[1:]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return "killed"
    if process.returncode != 0:
        return f"failed: {(stderr.strip().splitlines() or ['no output'])[-1]}"
    return "finished"


def check_files(work: str) -> list[str]:
    """Problems with the files under `work` after every job finished."""
    problems = []
    for dirpath, dirnames, filenames in os.walk(work):
        for name in dirnames + filenames:
            if name.startswith(".") or any(mark in name for mark in STRAY):
                problems.append(f"stray {os.path.relpath(os.path.join(dirpath, name), work)}")
    for path in glob.glob(os.path.join(work, "**", "*.pt"), recursive=True):
        try:
            torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # any failure to load is a corrupt file
            problems.append(f"corrupt {os.path.relpath(path, work)}: {type(error).__name__}")
    try:
        episodes = load_demos(os.path.join(work, "demos.hdf5"), "Leap-Grasp-v0")
        if len(episodes) != 24:
            problems.append(f"demos.hdf5 holds {len(episodes)} demonstrations, 24 were asked")
    except (OSError, ValueError) as error:
        problems.append(f"demos.hdf5: {error}")
    try:
        load_dataset(os.path.join(work, "collect"), "Leap-Grasp-v0", skip_damaged=False)
    except (OSError, ValueError) as error:
        problems.append(f"collect: {error}")
    runs = glob.glob(os.path.join(work, "train", "*", "*"))
    last = f"model_{TRAIN_ITERATIONS - 1}.pt"
    if len(runs) != 1 or not os.path.isfile(os.path.join(runs[0], last)):
        problems.append(f"train: {len(runs)} run folders, expected one ending with {last}")
    return problems


def kills(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="soak_kills_")
    jobs = job_commands(work)
    per_job = -(-args.kills // len(jobs))
    report = {"kills": 0, "jobs": {}}
    for name, (_, resume) in jobs.items():
        outcomes = []
        for _ in range(per_job):
            outcome = run(resume(), kill_after=rng.uniform(args.min_s, args.max_s))
            outcomes.append(outcome)
            report["kills"] += outcome == "killed"
        final = run(resume(), kill_after=None)
        report["jobs"][name] = {"outcomes": outcomes, "final": final}
        print(f"{name}: {', '.join(outcomes)}; final run {final}", flush=True)
    report["problems"] = check_files(work)
    report["problems"] += [
        f"{n}: final run {j['final']}" for n, j in report["jobs"].items() if j["final"] != "finished"
    ]
    if not args.keep:
        shutil.rmtree(work)
    return report


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
    report = steps(args) if args.command == "steps" else kills(args)
    report["machine"] = cli.machine_info()
    cli.report_json(report, args.out)
    if report.get("problems") or any(
        row["crash"] or row["non_finite_steps"] for rows in report.get("tasks", {}).values() for row in rows.values()
    ):
        sys.exit(1)


if __name__ == "__main__":
    cli.run_main(main)
