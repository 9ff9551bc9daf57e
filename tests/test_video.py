"""Videos of rollouts: play.py --video end to end, the recorder on both tasks, and bad flags failing early."""

import os
import subprocess
import sys

import imageio_ffmpeg
import mujoco
import numpy as np
import pytest
import torch
from PIL import Image

from isaac_tasks import make_agent_cfg, make_env
from isaac_tasks.evaluation.video import VideoRecorder, record

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK = ["--task", "Leap-Grasp-v0"]


def tool(name, *args, cwd):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", name), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def mp4_frames(path: str) -> np.ndarray:
    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    width, height = meta["size"]
    return np.stack([np.frombuffer(frame, np.uint8).reshape(height, width, 3) for frame in reader])


def zero_policy(env):
    return lambda obs: torch.zeros(env.num_envs, env.num_actions)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained policy checkpoint in a run folder (what is filmed does not matter here)."""
    from agents.ppo_runner import PPORunner

    run = tmp_path_factory.mktemp("run")
    env = make_env("Leap-Grasp-v0", num_envs=2, num_threads=1)
    PPORunner(env, make_agent_cfg("Leap-Grasp-v0"), task="Leap-Grasp-v0").save(str(run / "model_0.pt"))
    return run, str(run / "model_0.pt")


def test_play_writes_a_video_of_the_requested_length(checkpoint):
    run, path = checkpoint
    result = tool(
        "play.py", *TASK, "--checkpoint", path, "--num_envs", "4", "--episodes", "1", "--num_threads", "1",
        "--video", "--video_length", "10", "--video_envs", "3", "--video_resolution", "64x48", cwd=run,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    video = run / "videos" / "play.mp4"  # the default path
    assert f"Wrote {video} (10 frames" in result.stdout and "success_rate:" in result.stdout
    frames = mp4_frames(str(video))
    assert frames.shape == (10, 2 * 48 + 2, 2 * 64 + 2, 3)  # 3 environments in a 2 x 2 grid, 2 px apart
    for tile in (frames[:, :48, :64], frames[:, :48, 66:], frames[:, 50:, :64]):
        assert tile.reshape(10, -1).std(axis=1).min() > 5.0  # a rendered picture, not a blank one
    assert not [name for name in os.listdir(run / "videos") if name.startswith(".")]  # no temporary left


@pytest.fixture
def play_tool(monkeypatch):
    """tools/play.py's main, in this process, with environments that must not be built."""
    import importlib.util

    monkeypatch.syspath_prepend(os.path.join(ROOT, "tools"))
    spec = importlib.util.spec_from_file_location("play_tool", os.path.join(ROOT, "tools", "play.py"))
    play = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(play)

    def make_env(*args, **kwargs):
        raise AssertionError("an environment was built")

    monkeypatch.setattr(play, "make_env", make_env)
    return play


@pytest.mark.parametrize(
    "args, message",
    [
        (["--camera", "bird"], "unknown camera 'bird'; use one of front, side, top, close or camera:<name>"),
        (["--video_resolution", "64x4"], "video resolution must be 16 to 4096 pixels per side"),
        (["--video", "clip.avi"], "video file must end in .mp4 or .gif"),
        (["--video", "model_0.pt/clip.mp4"], "cannot write the video model_0.pt/clip.mp4"),
    ],
)
def test_bad_video_flags_fail_in_one_line_before_any_environment(
    checkpoint, play_tool, monkeypatch, capsys, args, message
):
    run, path = checkpoint
    monkeypatch.chdir(run)
    monkeypatch.setattr(sys, "argv", ["play.py", *TASK, "--checkpoint", path, "--video", *args])
    with pytest.raises(SystemExit) as exit_info:
        play_tool.cli.run_main(play_tool.main)
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err.strip()
    assert len(stderr.splitlines()) == 1 and message in stderr


def test_record_plays_whole_episodes_and_writes_a_gif(tmp_path):
    env = make_env("Leap-Grasp-v0", num_envs=3, episode_length_s=0.5, num_threads=1)  # 10-step episodes
    with VideoRecorder(env, str(tmp_path / "unused.gif"), num_envs=2, width=32, height=24):
        pass  # closed without saving: nothing is left behind
    path = record(env, zero_policy(env), str(tmp_path / "clip.gif"), num_envs=2, episodes=2, width=32, height=24)
    assert sorted(os.listdir(tmp_path)) == ["clip.gif"]
    gif = Image.open(path)
    assert gif.size == (2 * 32 + 2, 24)  # two environments side by side
    # 2 episodes of 10 steps: the reset frame and 19 steps; Pillow merges repeated frames, adding their time
    durations = []
    for index in range(gif.n_frames):
        gif.seek(index)
        durations.append(gif.info["duration"])
    assert sum(durations) == 20 * 50


def test_orca_cube_renders_from_every_view(tmp_path):
    env = make_env("Orca-Cube-Rotate-v0", num_envs=2, num_threads=1)
    for camera in ("front", "side", "top"):
        path = record(
            env, zero_policy(env), str(tmp_path / f"{camera}.mp4"), length=2, camera=camera, width=48, height=32
        )
        frames = mp4_frames(path)
        assert frames.shape == (2, 32, 2 * 48 + 2, 3) and frames[:, :, :48].std() > 5.0
        if camera != "top":  # from above the palm hides the cube
            orange = (frames[..., 0] > 150) & (frames[..., 1] > 50) & (frames[..., 1] < 140) & (frames[..., 2] < 80)
            assert orange.any(), f"the orange cube is not in the {camera} view"
    with pytest.raises(ValueError, match="no camera named 'wrist'; its cameras: none"):
        VideoRecorder(env, str(tmp_path / "x.mp4"), camera="camera:wrist")


def test_render_data_is_the_environment_state(grasp_env):
    """The CPU backend's rendering data: each environment's own object variant and current poses."""
    physics = grasp_env.physics
    geom = mujoco.mj_name2id(physics.model, mujoco.mjtObj.mjOBJ_GEOM, "object_geom")
    body = mujoco.mj_name2id(physics.model, mujoco.mjtObj.mjOBJ_BODY, "object")
    sizes = []
    for env_id in (0, 1):
        model, data = physics.render_data(env_id)
        np.testing.assert_allclose(data.xpos[body], physics.state.body_pos[env_id, 0].numpy(), atol=1e-6)
        sizes.append(model.geom_size[geom].copy())
        again = physics.render_data(env_id, model, data)
        assert again[0] is model and again[1] is data
    assert not np.array_equal(*sizes)  # environments 0 and 1 hold different objects


@pytest.fixture
def tool_main(monkeypatch):
    """A tool's module, run in this process with `forbidden` functions (the work) replaced by failures."""
    import importlib.util

    monkeypatch.syspath_prepend(os.path.join(ROOT, "tools"))
    monkeypatch.syspath_prepend(ROOT)  # ahead of tools/, whose distill.py is not the distill package

    def load(name, *forbidden):
        spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for function in forbidden:

            def fail(*args, _name=function, **kwargs):
                raise AssertionError(f"{_name} was called")

            monkeypatch.setattr(module, function, fail)
        return module

    return load


def run_tool_main(module, argv, monkeypatch, capsys) -> str:
    """The one line a tool wrote to stderr when it stopped with exit status 2."""
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        module.cli.run_main(module.main)
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err.strip()
    assert len(stderr.splitlines()) == 1, stderr
    return stderr


@pytest.mark.parametrize(
    "tool, args, message",
    [
        ("generate_demos", ["--video", "--camera", "bird"], "unknown camera 'bird'"),
        ("generate_demos", ["--video", "clip.avi"], "video file must end in .mp4 or .gif"),
        ("train_prior", ["--video", "--video_resolution", "8x8"], "video resolution must be 16 to 4096"),
        ("train_prior", ["--video", "clip.avi"], "video file must end in .mp4 or .gif"),
        ("train_prior", ["--video", "--eval_episodes", "0"], "--video films the evaluation: it needs --eval_episodes"),
    ],
)
def test_bad_video_flags_of_the_prior_tools_fail_before_any_work(
    tool_main, monkeypatch, capsys, tmp_path, tool, args, message
):
    monkeypatch.chdir(tmp_path)
    if tool == "generate_demos":
        module = tool_main(tool, "generate_demos", "film_demonstrator")
        argv = [f"{tool}.py", "--task", "Leap-Grasp-v0", "--out", str(tmp_path / "d.hdf5"), *args]
    else:
        module = tool_main(tool, "demo_task", "train_prior")
        argv = [f"{tool}.py", "--demos", __file__, "--log_root", str(tmp_path / "logs"), *args]
    assert message in run_tool_main(module, argv, monkeypatch, capsys)
    assert os.listdir(tmp_path) == []  # no shards, logs or run folder


def test_train_prior_refuses_to_resume_a_prior_with_the_old_condition(tool_main, monkeypatch, capsys, tmp_path, demos):
    from agents.flow_matching import FlowPrior

    old = str(tmp_path / "prior_100.pt")
    FlowPrior(23, 53, hidden_dims=(8,)).save(old, {"task": "Leap-Grasp-v0", "variant": "hand_arm", "step": 100})
    module = tool_main("train_prior", "train_prior")
    stderr = run_tool_main(module, ["train_prior.py", "--demos", demos, "--resume", old], monkeypatch, capsys)
    assert old in stderr and "'cond_dim': 53" in stderr and "'cond_dim': 61" in stderr and "retrain" in stderr
