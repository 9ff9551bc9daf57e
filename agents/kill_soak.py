"""Long-running tools killed with SIGKILL at random moments and resumed (tools/soak.py kills): training,
demonstration generation, distillation-data collection and DAgger. Afterwards every file they left is checked:
checkpoints load with `weights_only=True`, datasets open and hold what was asked, and nothing stray (temporaries,
staging folders, shard folders) remains."""

from __future__ import annotations

import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable

import torch

from agents.demonstrations import load_demos
from distill.dataset import load_dataset
from agents.ppo_runner import read_checkpoint

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
STRAY = (".tmp", ".partial", ".shards")
TRAIN_ITERATIONS = 16  # the run's last checkpoint is model_15.pt


def job_commands(work: str, task: str, teacher: str) -> dict[str, tuple[list[str], Callable[[], list[str]]]]:
    """Per tool: its command (small sizes) and a function giving the command that resumes it from `work`."""
    train_root = os.path.join(work, "train")
    distill_dir = os.path.join(work, "distill")
    train = ["train.py", "--task", task, "--num_envs", "16", "--max_iterations", str(TRAIN_ITERATIONS)]
    train += ["--save_interval", "2", "--log_root", train_root]
    demos = [
        "generate_demos.py",
        "--task",
        task,
        "--num_demos",
        "24",
        "--num_envs",
        "8",
        "--out",
        os.path.join(work, "demos.hdf5"),
    ]
    collect = ["collect_distill.py", "--teacher", teacher, "--num_demos", "12", "--num_envs", "8", "--max_rounds", "4"]
    collect += ["--num_points", "256", "--out", os.path.join(work, "collect")]
    distill = ["distill.py", "--teacher", teacher, "--num_envs", "8", "--iterations", "6", "--steps_per_iteration"]
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


def check_files(work: str, task: str, teacher_task: str) -> list[str]:
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
        episodes = load_demos(os.path.join(work, "demos.hdf5"), task)
        if len(episodes) != 24:
            problems.append(f"demos.hdf5 holds {len(episodes)} demonstrations, 24 were asked")
    except (OSError, ValueError) as error:
        problems.append(f"demos.hdf5: {error}")
    try:
        load_dataset(os.path.join(work, "collect"), teacher_task, skip_damaged=False)
    except (OSError, ValueError) as error:
        problems.append(f"collect: {error}")
    runs = glob.glob(os.path.join(work, "train", "*", "*"))
    last = f"model_{TRAIN_ITERATIONS - 1}.pt"
    if len(runs) != 1 or not os.path.isfile(os.path.join(runs[0], last)):
        problems.append(f"train: {len(runs)} run folders, expected one ending with {last}")
    return problems


def kills(task: str, teacher: str, num_kills: int, min_s: float, max_s: float, seed: int, keep: bool) -> dict:
    """Kill each job about num_kills / 4 times at uniform moments in [min_s, max_s] s after its start, resume it
    each time, let the last run finish; then check every file left."""
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="soak_kills_")
    jobs = job_commands(work, task, teacher)
    per_job = -(-num_kills // len(jobs))
    report = {"kills": 0, "jobs": {}}
    for name, (_, resume) in jobs.items():
        outcomes = []
        for _ in range(per_job):
            outcome = run(resume(), kill_after=rng.uniform(min_s, max_s))
            outcomes.append(outcome)
            report["kills"] += outcome == "killed"
        final = run(resume(), kill_after=None)
        report["jobs"][name] = {"outcomes": outcomes, "final": final}
        print(f"{name}: {', '.join(outcomes)}; final run {final}", flush=True)
    report["problems"] = check_files(work, task, read_checkpoint(teacher)["infos"]["task"])
    report["problems"] += [
        f"{n}: final run {j['final']}" for n, j in report["jobs"].items() if j["final"] != "finished"
    ]
    if not keep:
        shutil.rmtree(work)
    return report
