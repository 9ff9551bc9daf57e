"""Shared command-line conventions of the tools (Isaac Lab style flags, one-line errors)."""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import ctypes.util
import math
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator

# Videos render headless (EGL: the GPU where there is one, else Mesa on the CPU); mujoco reads this on import,
# and fails to import under it where there is no libEGL (a bare GPU server): then rendering alone is refused.
if "MUJOCO_GL" not in os.environ and ctypes.util.find_library("EGL"):
    os.environ["MUJOCO_GL"] = "egl"
# Make the project importable when a tool is run as `python tools/<tool>.py` from a checkout.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from distill.point_cloud import PointCloudCfg  # noqa: E402
from isaac_tasks import TASKS, make_env_cfg  # noqa: E402
from isaac_tasks.overrides import dataclass_override  # noqa: E402
from isaac_tasks.physics import BACKENDS  # noqa: E402

# The CPU physics backend runs its own thread pool on every core; torch's small per-step tensor work is
# faster on one thread than contending with it (docs/benchmarks.md).
torch.set_num_threads(1)


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line on stderr (no usage block), exit status 2."""

    def error(self, message: str):
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


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


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _finite_where(text: str, ok: Callable[[float], bool], what: str) -> float:
    value = finite_float(text)
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def non_negative_float(text: str) -> float:
    return _finite_where(text, lambda value: value >= 0, "a non-negative number")


def positive_float(text: str) -> float:
    return _finite_where(text, lambda value: value > 0, "a positive number")


def fraction(text: str) -> float:
    return _finite_where(text, lambda value: 0 <= value <= 1, "in [0, 1]")


def _input_problem(path: str) -> str | None:
    if os.path.islink(path) and not os.path.exists(path):
        return f"a link to nowhere ({os.readlink(path)})"
    if not os.path.exists(path):
        return "no such file"
    if not os.path.isfile(path):
        return "a folder, not a file"
    if os.path.getsize(path) == 0:
        return "the file is empty"
    return None


def _output_problem(path: str, folder: bool) -> str | None:
    if os.path.islink(path) and not os.path.exists(path):
        return f"a link to nowhere ({os.readlink(path)})"
    if os.path.exists(path) and os.path.isdir(path) != folder:
        return "exists and is " + ("a file, not a folder" if folder else "a folder, not a file")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"cannot be created, {parent} is a file"
    if not os.access(parent, os.W_OK):
        return f"cannot be created, {parent} is not writable"
    return None


def _checked(path: str, problem: str | None, flag: str | None = None) -> str:
    """`path` made absolute if `problem` is None; else ValueError naming `flag`, or argparse's error without one."""
    if problem and flag:
        raise ValueError(f"{flag} {path}: {problem}")
    if problem:
        raise argparse.ArgumentTypeError(f"{path}: {problem}")
    return os.path.abspath(path)


def input_file(path: str, flag: str) -> str:
    """`path` as an absolute path, checked to be a non-empty file; ValueError naming `flag` otherwise."""
    return _checked(path, _input_problem(path), flag)


def output_path(path: str, flag: str, folder: bool = False) -> str:
    """`path` as an absolute path where a file (or a `folder`) can be written, checked before any work and
    without creating anything; ValueError naming `flag` otherwise."""
    return _checked(path, _output_problem(path, folder), flag)


def existing_file(text: str) -> str:
    """argparse type: a non-empty file (as an absolute path)."""
    return _checked(text, _input_problem(text))


def output_file(text: str) -> str:
    """argparse type: a path where a file can be written (as an absolute path); nothing is created."""
    return _checked(text, _output_problem(text, folder=False))


def output_folder(text: str) -> str:
    """argparse type: a path where a folder can be made or added to (as an absolute path); nothing is created."""
    return _checked(text, _output_problem(text, folder=True))


def add_env_override_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override the task's config, e.g. rewards.finger_overlap=-300.0 episode_length_s=10.0",
    )


def env_config_overrides(args: argparse.Namespace) -> dict:
    """The task settings of `--env` (add_env_override_args), checked against the task's config."""
    default = make_env_cfg(args.task)
    return dict(dataclass_override(default, override, "--env") for override in args.env)


def add_task_args(parser: argparse.ArgumentParser, num_envs: int) -> None:
    parser.add_argument("--task", required=True, help=f"task id, one of: {', '.join(TASKS)}")
    parser.add_argument("--num_envs", type=positive_int, default=num_envs, help="parallel environments")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed")
    parser.add_argument("--num_threads", type=non_negative_int, default=0, help="physics threads (0: all cores)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="mujoco",
        help="physics backend: mujoco (CPU), mujoco_warp (MuJoCo Warp; pip install -e .[warp]) or isaaclab (Isaac Lab "
        "3.0 on Newton; a Python 3.12 venv with pip install -e .[isaaclab])",
    )
    parser.add_argument(
        "--device", default="cpu", help="device of the policy; with a GPU-capable backend also of the simulation"
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
        "device": "cpu" if args.backend == "mujoco" else args.device,  # the embedded backend simulates on the CPU
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
    output_path(path, "--video")
    return {
        "path": path,
        "num_envs": args.video_envs,
        "episodes": args.video_episodes,
        "length": args.video_length,
        "camera": args.camera,
        "width": width,
        "height": height,
    }


@contextlib.contextmanager
def staged_folder(path: str, replace: bool = False) -> Iterator[str]:
    """Yield a fresh folder beside `path` to write into; on success its files are moved into `path` (all of
    `path` replaced with `replace`), on failure it is removed: `path` never holds a partial output."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(path)}.")
    try:
        yield staging
        if os.path.isdir(path) and not replace:
            for name in os.listdir(staging):
                os.replace(os.path.join(staging, name), os.path.join(path, name))
        else:
            if os.path.isdir(path):
                shutil.rmtree(path)
            os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def new_run_folder(path: str, checkpoints: str) -> Iterator[None]:
    """On a failure inside, remove `path` if it did not exist before and holds no file matching `checkpoints`
    (a glob): a run stopped before its first checkpoint leaves nothing behind."""
    new = not os.path.exists(path)
    try:
        yield
    except BaseException:
        if new and not glob.glob(os.path.join(path, checkpoints)):
            shutil.rmtree(path, ignore_errors=True)
        raise


def run_main(main: Callable[[], None]) -> None:
    """Run a tool, turning expected failures (bad values, files, folders, memory) into one line on stderr and
    exit status 2; any other exception is a bug and keeps its traceback."""
    try:
        main()
    except (ValueError, OSError, MemoryError, torch.OutOfMemoryError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"error: {message}", file=sys.stderr)
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
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
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
    if resume == "latest":  # the newest run with a checkpoint (a run killed before its first one has none)
        runs = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(runs_dir, "*", f"{prefix}*.pt")))
        if not runs:
            raise CheckpointError(f"--resume: no earlier run with a checkpoint in {runs_dir}")
        folder = runs[-1]
    if not os.path.isdir(folder):
        raise CheckpointError(f"--resume: checkpoint not found: no checkpoint file or run folder at {resume}")
    checkpoints = glob.glob(os.path.join(folder, f"{prefix}*.pt"))
    if not checkpoints:
        raise CheckpointError(f"--resume: checkpoint not found: no {prefix}<N>.pt in {folder}")
    return max(checkpoints, key=lambda p: int(os.path.basename(p)[len(prefix) : -3]))


def add_point_cloud_args(parser: argparse.ArgumentParser) -> None:
    """The point-cloud sensor flags of the distillation tools (distill/point_cloud.py)."""
    defaults = PointCloudCfg()
    parser.add_argument("--num_points", type=positive_int, default=defaults.num_points)
    parser.add_argument("--camera_width", type=positive_int, default=defaults.cameras[0].width)
    parser.add_argument("--camera_height", type=positive_int, default=defaults.cameras[0].height)
    parser.add_argument("--sampling", choices=("random", "fps"), default=defaults.sampling)
    parser.add_argument(
        "--extrinsic_pos_noise", type=non_negative_float, default=defaults.extrinsic_pos_noise, help="m"
    )
    parser.add_argument(
        "--extrinsic_rot_noise", type=non_negative_float, default=defaults.extrinsic_rot_noise, help="rad"
    )
    parser.add_argument("--point_noise", type=non_negative_float, default=defaults.point_noise, help="m")
    parser.add_argument(
        "--segment_body", help="keep only the points on this body of the scene, an object mask (grasping: object)"
    )


def point_cloud_cfg(args: argparse.Namespace) -> PointCloudCfg:
    """The config of the flags of `add_point_cloud_args`."""
    cfg = PointCloudCfg(
        num_points=args.num_points,
        sampling=args.sampling,
        extrinsic_pos_noise=args.extrinsic_pos_noise,
        extrinsic_rot_noise=args.extrinsic_rot_noise,
        point_noise=args.point_noise,
        segment_body=args.segment_body,
    )
    for camera in cfg.cameras:
        camera.width, camera.height = args.camera_width, args.camera_height
    cfg.validate()
    return cfg
