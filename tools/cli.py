"""Shared command-line conventions of the tools (Isaac Lab style flags, one-line errors)."""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import sys
from typing import Callable

# Videos render headless (EGL: the GPU where there is one, else Mesa on the CPU); mujoco reads this on import.
os.environ.setdefault("MUJOCO_GL", "egl")
# Make the project importable when a tool is run as `python tools/<tool>.py` from a checkout.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from isaac_tasks import TASKS  # noqa: E402
from isaac_tasks.physics import BACKENDS  # noqa: E402

# The CPU physics backend runs its own thread pool on every core; torch's small per-step tensor work is
# faster on one thread than contending with it (docs/benchmarks.md).
torch.set_num_threads(1)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text}")
    return value


def override_config(config: dict, override: str, flag: str) -> None:
    """Set `a.b.c=value` in a nested config dict; the key must exist and the value keep its type (JSON, or text
    for a text setting)."""
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ValueError(f"{flag} {override}: needs KEY=VALUE, e.g. algorithm.learning_rate=1e-4")
    *parents, name = key.split(".")
    node = config
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or name not in node:
        raise ValueError(f"{flag} {override}: no setting '{key}' in the config")
    old = node[name]
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if isinstance(old, bool) or old is None:
        ok = isinstance(value, type(old)) or old is None
    elif isinstance(old, (int, float)):
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and (isinstance(old, float) or isinstance(value, int))
        )
    else:
        ok = isinstance(value, type(old))
    if not ok:
        raise ValueError(f"{flag} {override}: '{key}' is {type(old).__name__} ({old!r}), got {value!r}")
    node[name] = float(value) if isinstance(old, float) else value


def add_task_args(parser: argparse.ArgumentParser, num_envs: int) -> None:
    parser.add_argument("--task", required=True, help=f"task id, one of: {', '.join(TASKS)}")
    parser.add_argument("--num_envs", type=positive_int, default=num_envs, help="parallel environments")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed")
    parser.add_argument("--num_threads", type=non_negative_int, default=0, help="physics threads (0: all cores)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="mujoco",
        help="physics backend: mujoco (CPU) or mujoco_warp (MuJoCo Warp; pip install -e .[warp])",
    )
    parser.add_argument(
        "--device", default="cpu", help="device of the policy; with --backend mujoco_warp also of the simulation"
    )
    parser.add_argument(
        "--headless", action="store_true", help="accepted for Isaac Lab parity; runs are always headless"
    )


def task_overrides(args: argparse.Namespace) -> dict:
    """The task config settings given by the flags of `add_task_args`."""
    return {
        "num_envs": args.num_envs,
        "seed": args.seed,
        "num_threads": args.num_threads,
        "backend": args.backend,
        "device": args.device if args.backend == "mujoco_warp" else "cpu",  # the CPU backend simulates on the CPU
    }


def video_resolution(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be WIDTHxHEIGHT such as 320x240, got {text}") from None
    return width, height


def add_video_args(parser: argparse.ArgumentParser) -> None:
    """The video flags every tool shares (Isaac Lab's --video and --video_length, and ours)."""
    group = parser.add_argument_group("video", "render a few environments headless (isaac_tasks/evaluation/video.py)")
    group.add_argument(
        "--video",
        nargs="?",
        const="",
        metavar="PATH",
        help="record a video (.mp4, or .gif); without PATH the tool's default file",
    )
    group.add_argument(
        "--video_length", type=positive_int, help="frames (policy steps) to record; default: whole episodes"
    )
    group.add_argument(
        "--video_episodes", type=positive_int, default=1, help="episodes each recorded environment plays (default 1)"
    )
    group.add_argument("--video_envs", type=positive_int, default=4, help="environments recorded, tiled (default 4)")
    group.add_argument(
        "--camera",
        default="front",
        help="front, side, top, close (views of the workspace) or camera:<name> of the model",
    )
    group.add_argument(
        "--video_resolution", type=video_resolution, default=(320, 240), help="pixels per environment (default 320x240)"
    )


def video_options(args: argparse.Namespace, default_path: str) -> dict | None:
    """The `video.record` / `VideoRecorder` keyword arguments the flags of `add_video_args` ask for, checked
    (camera, resolution, a writable .mp4 or .gif path) before anything is built; None without --video."""
    if args.video is None:
        return None
    from isaac_tasks.evaluation import video

    path = args.video or default_path
    width, height = args.video_resolution
    video.check_camera(args.camera)
    video.check_size(width, height)
    video.check_output(path)
    return {
        "path": path,
        "num_envs": args.video_envs,
        "episodes": args.video_episodes,
        "length": args.video_length,
        "camera": args.camera,
        "width": width,
        "height": height,
    }


def run_main(main: Callable[[], None]) -> None:
    """Run a tool, turning expected failures into one line on stderr and exit status 2."""
    from agents.ppo_runner import CheckpointError

    try:
        main()
    except (ValueError, CheckpointError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def machine_info() -> dict:
    """The machine and library versions a benchmark ran on."""
    import mujoco
    import numpy

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "gpu": gpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "mujoco": mujoco.__version__,
        "numpy": numpy.__version__,
    }


def report_json(result: dict, out: str | None) -> None:
    """Print a benchmark's figures and, if asked, write them atomically to `out`."""
    print(json.dumps(result, indent=2))
    if out:
        with open(out + ".tmp", "w") as f:
            json.dump(result, f, indent=2)
        os.replace(out + ".tmp", out)


def find_checkpoint(resume: str, runs_dir: str, prefix: str) -> str:
    """The checkpoint --resume names: a file, a run folder (its newest <prefix><N>.pt), or 'latest' (the
    newest run under runs_dir)."""
    from agents.ppo_runner import CheckpointError

    if os.path.isfile(resume):
        return resume
    folder = resume
    if resume == "latest":
        runs = sorted(d for d in glob.glob(os.path.join(runs_dir, "*")) if os.path.isdir(d))
        if not runs:
            raise CheckpointError(f"--resume: no earlier run in {runs_dir}")
        folder = runs[-1]
    if not os.path.isdir(folder):
        raise CheckpointError(f"--resume: checkpoint not found: no checkpoint file or run folder at {resume}")
    checkpoints = glob.glob(os.path.join(folder, f"{prefix}*.pt"))
    if not checkpoints:
        raise CheckpointError(f"--resume: checkpoint not found: no {prefix}<N>.pt in {folder}")
    return max(checkpoints, key=lambda p: int(os.path.basename(p)[len(prefix) : -3]))
