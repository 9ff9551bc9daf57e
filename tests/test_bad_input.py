"""Every tool against malformed input: one line on stderr naming the argument or file, exit status 2, and the
file system left as it was (issue 16).

The tools run in this process (`runpy`), so that the ~90 cases cost their own checks, not ~90 interpreter
starts. Inputs are real files: the shipped checkpoints (copied, so that nothing is written beside the
originals), a small real demonstration file, and broken files of every kind.
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")
TASK = ["--task", "Leap-Grasp-v0"]


def run_tool(tool: str, args: list[str], cwd) -> tuple[int, str]:
    """Exit status and stderr of `tools/<tool> args`, run in this process from `cwd`."""
    path = os.path.join(TOOLS, tool)
    err = io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = [path, *args]
    sys.path.append(TOOLS)  # after the project root: tools/distill.py must not shadow the distill package
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                runpy.run_path(path, run_name="__main__")
                code = 0
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else 1
    finally:
        sys.argv = old_argv
        sys.path.remove(TOOLS)
        os.chdir(old_cwd)
    return code, err.getvalue()


def snapshot(folder) -> dict[str, tuple]:
    """Every path under `folder` with its kind, size and modification time."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            state[os.path.relpath(path, folder)] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return state


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, demos):
    """A folder of good and broken inputs; the tests run the tools from it."""
    folder = tmp_path_factory.mktemp("bad_input")
    checkpoints = folder / "ckpt"
    checkpoints.mkdir()
    for name in ("leap_grasp_rfs_hand_arm.pt", "leap_grasp_prior_hand_arm.pt", "leap_grasp_prior_hand.pt"):
        shutil.copy(os.path.join(ROOT, "checkpoints", name), checkpoints / name)
    shutil.copy(demos, folder / "demos.hdf5")
    (folder / "afile.txt").write_text("x")
    (folder / "adir").mkdir()
    (folder / "empty.pt").write_bytes(b"")
    (folder / "garbage.pt").write_bytes(os.urandom(256))
    (folder / "garbage.hdf5").write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(200))
    os.symlink(folder / "nowhere.pt", folder / "dangling.pt")
    truncated = (checkpoints / "leap_grasp_rfs_hand_arm.pt").read_bytes()
    (folder / "truncated.pt").write_bytes(truncated[: len(truncated) // 2])
    return folder


PLACES = {
    "FILE": "afile.txt",
    "DIR": "adir",
    "UNDER_FILE": "afile.txt/sub/out",
    "MISSING": "missing.pt",
    "EMPTY": "empty.pt",
    "GARBAGE": "garbage.pt",
    "GARBAGE_H5": "garbage.hdf5",
    "DANGLING": "dangling.pt",
    "TRUNCATED": "truncated.pt",
    "POLICY": "ckpt/leap_grasp_rfs_hand_arm.pt",
    "PRIOR": "ckpt/leap_grasp_prior_hand_arm.pt",
    "HAND_PRIOR": "ckpt/leap_grasp_prior_hand.pt",
    "DEMOS": "demos.hdf5",
}

TRAIN = [*TASK, "--num_envs", "2", "--max_iterations", "1"]
OTHER_TASK = ["--task", "Orca-Grasp-v0"]
RFS = ["--action_space", "rfs_hand_arm", "--prior_checkpoint"]
PLAY = [*TASK, "--num_envs", "2", "--episodes", "1"]
EVALUATE = [*TASK, "--num_envs", "2", "--episodes", "1", "--sweep", "1", "--sweep_episodes", "1"]
DEMOS = ["--task", "Leap-Grasp-v0", "--num_demos", "1", "--num_envs", "1"]
COLLECT = ["--teacher", "POLICY", "--num_demos", "1", "--num_envs", "1", "--max_rounds", "1"]
DISTILL = ["--teacher", "POLICY", "--num_envs", "1", "--iterations", "1", "--steps_per_iteration", "1"]
PRIOR = ["--demos", "DEMOS", "--num_steps", "1", "--eval_episodes", "0"]
COMPARE = ["--methods", "rel_joint", "--env_steps", "1", "--num_envs", "2", "--eval_episodes", "1", "--seeds", "0",
           "--task", "Leap-Grasp-v0"]  # fmt: skip
BENCH = [*TASK, "--num_envs", "2", "--num_steps", "1", "--rounds", "1"]
PUSH = ["--task", "Leap-Grasp-v0", "--num_states", "2", "--num_envs", "2", "--repeats", "1"]
SHIP = [*TASK, "--checkpoint", "POLICY"]

# (tool, arguments, what the one line must name: a flag or a placeholder standing for a path)
CASES = [
    # output locations
    ("train.py", [*TRAIN, "--log_root", "FILE"], "--log_root"),
    ("train.py", [*TRAIN, "--log_root", "UNDER_FILE"], "--log_root"),
    ("play.py", [*PLAY, "--checkpoint", "POLICY", "--export_dir", "FILE"], "--export_dir"),
    ("play.py", [*PLAY, "--checkpoint", "POLICY", "--export_dir", "UNDER_FILE"], "--export_dir"),
    ("play.py", [*PLAY, "--checkpoint", "POLICY", "--video", "DIR"], "DIR"),
    ("play.py", [*PLAY, "--checkpoint", "POLICY", "--video", "UNDER_FILE.mp4"], "UNDER_FILE"),
    ("evaluate.py", [*EVALUATE, "--checkpoint", "POLICY", "--out", "FILE"], "--out"),
    ("evaluate.py", [*EVALUATE, "--checkpoint", "POLICY", "--out", "UNDER_FILE"], "--out"),
    ("generate_demos.py", [*DEMOS, "--out", "DIR"], "--out"),
    ("generate_demos.py", [*DEMOS, "--out", "UNDER_FILE"], "--out"),
    ("collect_distill.py", [*COLLECT, "--out", "FILE"], "--out"),
    ("collect_distill.py", [*COLLECT, "--out", "UNDER_FILE"], "--out"),
    ("distill.py", [*DISTILL, "--log_dir", "FILE"], "--log_dir"),
    ("distill.py", [*DISTILL, "--log_dir", "UNDER_FILE"], "--log_dir"),
    ("train_prior.py", [*PRIOR, "--log_root", "FILE"], "--log_root"),
    ("train_prior.py", [*PRIOR, "--log_root", "UNDER_FILE"], "--log_root"),
    ("train_vqvae.py", ["--demos", "DEMOS", "--num_steps", "1", "--log_root", "FILE"], "--log_root"),
    ("compare.py", [*COMPARE, "--out", "FILE"], "--out"),
    ("compare.py", [*COMPARE, "--out", "UNDER_FILE"], "--out"),
    (
        "calibrate_grasps.py",
        ["--task", "Leap-Grasp-v0", "--family", "pinch", "--num_envs", "2", "--out", "DIR"],
        "--out",
    ),
    (
        "calibrate_grasps.py",
        ["--task", "Leap-Grasp-v0", "--family", "pinch", "--num_envs", "2", "--out", "UNDER_FILE.json"],
        "--out",
    ),
    ("benchmark.py", [*BENCH, "--out", "DIR"], "--out"),
    ("benchmark.py", [*BENCH, "--out", "UNDER_FILE.json"], "--out"),
    ("benchmark_push.py", [*PUSH, "--out", "DIR"], "--out"),
    ("benchmark_penetration.py", ["--task", "Leap-Grasp-v0", "--num_states", "2", "--out", "UNDER_FILE.json"], "--out"),
    ("benchmark_point_cloud.py", ["--teacher", "POLICY", "--num_envs", "2", "--repeats", "1", "--out", "DIR"], "--out"),
    ("plot_curves.py", ["adir", "--out", "DIR"], "--out"),
    ("ship_checkpoint.py", [*SHIP, "--out", "DIR"], "--out"),
    ("ship_checkpoint.py", [*SHIP, "--out", "UNDER_FILE.pt"], "--out"),
    # broken input files
    *[("train.py", [*TRAIN, *RFS, bad], bad) for bad in ("MISSING", "EMPTY", "GARBAGE", "DANGLING", "DIR", "POLICY")],
    ("train.py", [*TRAIN, *RFS, "HAND_PRIOR"], "HAND_PRIOR"),
    *[("train.py", [*TRAIN, "--resume", bad], bad) for bad in ("EMPTY", "GARBAGE", "DANGLING", "TRUNCATED", "PRIOR")],
    ("train.py", [*TRAIN, "--resume", "DIR"], "DIR"),
    ("train.py", [*TRAIN, "--action_space", "pca", "--demos_path", "GARBAGE_H5"], "GARBAGE_H5"),
    *[("play.py", [*PLAY, "--checkpoint", bad], bad) for bad in ("EMPTY", "DANGLING", "DIR", "TRUNCATED")],
    *[("evaluate.py", [*EVALUATE, "--checkpoint", bad, "--out", "r"], bad) for bad in ("GARBAGE", "DIR")],
    # a prior plays alone, but only in its own task
    ("play.py", [*OTHER_TASK, *PLAY[2:], "--checkpoint", "PRIOR"], "PRIOR"),
    ("evaluate.py", [*OTHER_TASK, *EVALUATE[2:], "--checkpoint", "PRIOR", "--out", "r"], "PRIOR"),
    ("collect_distill.py", [*COLLECT[2:], "--teacher", "PRIOR", "--out", "d"], "PRIOR"),
    ("distill.py", [*DISTILL[2:], "--teacher", "GARBAGE"], "GARBAGE"),
    ("distill.py", [*DISTILL, "--dataset", "FILE"], "FILE"),
    ("distill.py", [*DISTILL, "--dataset", "MISSING"], "MISSING"),
    ("distill.py", [*DISTILL, "--resume", "GARBAGE"], "GARBAGE"),
    *[
        ("train_prior.py", ["--demos", bad, "--num_steps", "1"], bad)
        for bad in ("EMPTY", "GARBAGE_H5", "DIR", "POLICY")
    ],
    ("train_prior.py", [*PRIOR, "--resume", "POLICY"], "POLICY"),
    ("train_vqvae.py", ["--demos", "DANGLING", "--num_steps", "1"], "DANGLING"),
    ("compare.py", [*COMPARE[:1], "rfs_hand", *COMPARE[2:], "--prior_hand", "GARBAGE", "--out", "c"], "GARBAGE"),
    ("benchmark.py", [*BENCH, *RFS, "TRUNCATED"], "TRUNCATED"),
    ("benchmark_point_cloud.py", ["--teacher", "EMPTY", "--num_envs", "2", "--repeats", "1"], "EMPTY"),
    ("plot_curves.py", ["MISSING", "--out", "p.png"], "MISSING"),
    ("plot_curves.py", ["adir", "--out", "p.png"], "adir"),
    ("ship_checkpoint.py", [*TASK, "--checkpoint", "PRIOR", "--out", "s.pt"], "PRIOR"),
    # bad values
    ("train.py", [*TRAIN, "--agent", "algorithm.learning_rate=-1"], "learning_rate"),
    ("train.py", [*TRAIN, "--agent", "algorithm.learning_rate=NaN"], "learning_rate"),
    ("train.py", [*TRAIN, "--agent", "num_steps_per_env=0"], "num_steps_per_env"),
    ("train.py", [*TRAIN, "--agent", "algorithm.gamma=1e400"], "gamma"),
    ("train.py", [*TRAIN[:2], "--num_envs", "1000000000000", "--max_iterations", "1"], "num_envs"),
    ("train.py", ["--task", "Léap-Grasp-v0"], "Léap-Grasp-v0"),
    ("train.py", [*TRAIN, "--action_space", "rfs_hand_arm"], "prior_checkpoint"),
    ("train.py", [*TRAIN, "--env", "rewards.finger_overlap=NaN"], "finger_overlap"),
    ("train.py", [*TRAIN, "--env", "rewards.telepathy=1.0"], "telepathy"),
    ("train.py", [*TRAIN, "--backend", "isaaclab"], 'pip install -e ".[isaaclab]"'),  # this venv has no Isaac Lab
    ("benchmark.py", [*BENCH, "--env", "episode_length_s=long"], "episode_length_s"),
    ("evaluate.py", [*EVALUATE[:-4], "--sweep", "1,nan", "--checkpoint", "POLICY", "--out", "r"], "--sweep"),
    ("evaluate.py", [*EVALUATE, "--disturbance_scale", "inf", "--checkpoint", "POLICY", "--out", "r"], "inf"),
    ("generate_demos.py", [*DEMOS, "--disturbance_scale", "1e999", "--out", "d.hdf5"], "--disturbance_scale"),
    ("collect_distill.py", [*COLLECT, "--episode_length_s", "nan", "--out", "d"], "--episode_length_s"),
    ("collect_distill.py", [*COLLECT, "--point_noise", "-1", "--out", "d"], "--point_noise"),
    ("distill.py", [*DISTILL, "--lr", "nan"], "--lr"),
    ("distill.py", [*DISTILL, "--p_teacher", "2"], "--p_teacher"),
    ("distill.py", [*DISTILL, "--p_teacher_decay", "-0.5"], "--p_teacher_decay"),
    ("train_prior.py", [*PRIOR, "--lr", "-1"], "--lr"),
    ("train_prior.py", [*PRIOR, "--variant", "tentacle"], "tentacle"),
    ("compare.py", ["--methods", "telepathy", *COMPARE[2:], "--out", "c"], "telepathy"),
    (
        "benchmark_penetration.py",
        ["--task", "Leap-Grasp-v0", "--num_states", "2", "--object", "unobtainium"],
        "unobtainium",
    ),
    ("benchmark_push.py", [*PUSH, "--euler_steps", "0"], "--euler_steps"),
    ("play.py", [*PLAY[:2], "--num_envs", "-3", "--checkpoint", "POLICY"], "--num_envs"),
    ("soak.py", ["kills", "--task", "Leap-Grasp-v0", "--min_s", "9", "--max_s", "2"], "--min_s"),
    ("soak.py", ["steps", "--env_steps", "8", "--out", "DIR"], "--out"),
]


def resolve(args: list[str], folder) -> list[str]:
    out = []
    for arg in args:
        for key in sorted(PLACES, key=len, reverse=True):
            if arg.startswith(key) and (arg == key or not arg[len(key)].isalpha() and arg[len(key)] != "_"):
                arg = str(folder / PLACES[key]) + arg[len(key) :]
                break
        out.append(arg)
    return out


@pytest.mark.parametrize("tool, args, names", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_tool_refuses_bad_input_in_one_line(workspace, tool, args, names):
    before = snapshot(workspace)
    code, stderr = run_tool(tool, resolve(args, workspace), workspace)
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    named = PLACES[names] if names in PLACES else names
    assert named in lines[0], (named, lines[0])
    assert snapshot(workspace) == before, "the tool changed the file system"


def test_switch_overrides_take_json_or_python_spelling():
    from isaac_tasks.overrides import override_config

    config = {"curriculum": {"enabled": False}}
    for text, value in (("true", True), ("True", True), ("False", False), ("false", False)):
        override_config(config, f"curriculum.enabled={text}", "--env")
        assert config["curriculum"]["enabled"] is value
    for text in ("1", "yes", "TRUE"):
        with pytest.raises(ValueError, match="'curriculum.enabled' is bool"):
            override_config(config, f"curriculum.enabled={text}", "--env")


def test_repeated_override_flags_accumulate(monkeypatch):
    monkeypatch.syspath_prepend(TOOLS)
    import cli

    parser = cli.ArgumentParser()
    cli.add_env_override_args(parser)
    args = parser.parse_args(
        ["--env", "rewards.drop=-100.0", "--env", "curriculum.enabled=True", "episode_length_s=8.0"]
    )
    assert args.env == ["rewards.drop=-100.0", "curriculum.enabled=True", "episode_length_s=8.0"]
