"""The command-line tools end to end: real rsl-rl training, resume, evaluation, export, bad input."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK = ["--task", "Leap-Grasp-v0"]


def tool(name, *args, cwd):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", name), *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("train")
    args = ["--num_envs", "8", "--max_iterations", "2", "--headless", "--agent", "algorithm.learning_rate=2e-4"]
    result = tool("train.py", *TASK, *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    (run,) = glob.glob(str(cwd / "logs/rsl_rl/leap_grasp/*"))
    return cwd, run


def test_training_writes_checkpoints_logs_and_config(trained_run):
    _, run = trained_run
    for name in ("model_0.pt", "model_1.pt", "params/env.json", "params/agent.json"):
        assert os.path.isfile(os.path.join(run, name)), name
    assert glob.glob(os.path.join(run, "events.out.tfevents.*"))
    checkpoint = torch.load(os.path.join(run, "model_1.pt"), weights_only=True)
    assert checkpoint["iter"] == 1 and checkpoint["infos"]["task"] == "Leap-Grasp-v0"
    assert not glob.glob(os.path.join(run, ".tmp_*"))  # atomic writes leave no temporaries
    with open(os.path.join(run, "params", "agent.json")) as f:
        assert json.load(f)["algorithm"]["learning_rate"] == 2e-4  # the --agent override


def test_resume_continues_the_run(trained_run):
    cwd, run = trained_run
    stale = os.path.join(run, ".tmp_kill.pt")
    open(stale, "wb").close()  # a checkpoint write cut short by a SIGKILL
    # a run SIGKILLed before its first checkpoint: its staging folder, named after its (now dead) process
    dead = subprocess.Popen(["true"])
    dead.wait()
    staging = os.path.join(os.path.dirname(run), f".2099-01-01_00-00-00.partial-{dead.pid}")
    os.makedirs(os.path.join(staging, "params"))
    args = ["--num_envs", "8", "--max_iterations", "4", "--save_interval", "3", "--resume"]
    result = tool("train.py", *TASK, *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "Resuming from" in result.stdout and "iteration 2" in result.stdout
    assert torch.load(os.path.join(run, "model_3.pt"), weights_only=True)["iter"] == 3
    assert not os.path.exists(stale) and not os.path.exists(os.path.join(run, "model_2.pt"))
    assert not os.path.exists(staging)
    assert os.listdir(os.path.dirname(run)) == [os.path.basename(run)]


def test_a_run_is_published_with_its_first_checkpoint(tmp_path):
    """Until its first checkpoint a run lives in a hidden staging folder; moved into place, the run folder holds
    the TensorBoard log of every iteration, before and after the move."""
    result = tool("train.py", *TASK, "--num_envs", "4", "--max_iterations", "2", "--agent", "num_steps_per_env=2",
                  "--log_root", "logs", "--run_name", "x", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = glob.glob(str(tmp_path / "logs/leap_grasp/*"))
    assert run.endswith("_x") and sorted(glob.glob(os.path.join(run, "model_*.pt")))
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    events = EventMultiplexer().AddRunsFromDirectory(run)
    events.Reload()
    steps = {e.step for name in events.Runs() for e in events.Scalars(name, "Loss/learning_rate")}
    assert steps == {0, 1}
    assert os.listdir(tmp_path / "logs/leap_grasp") == [os.path.basename(run)]


def test_play_evaluates_and_exports_matching_policies(trained_run):
    import onnxruntime

    from agents.ppo_runner import PPORunner
    from isaac_tasks import make_agent_cfg, make_env

    cwd, run = trained_run
    checkpoint = os.path.join(run, "model_1.pt")
    result = tool("play.py", *TASK, "--checkpoint", checkpoint, "--num_envs", "8", "--episodes", "10", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "success_rate:" in result.stdout and "success_pinch:" in result.stdout
    env = make_env("Leap-Grasp-v0", num_envs=4)
    runner = PPORunner(env, make_agent_cfg("Leap-Grasp-v0"), task="Leap-Grasp-v0")
    runner.load(checkpoint)
    obs = env.get_observations()
    expected = runner.get_inference_policy()(obs).detach()
    jit = torch.jit.load(os.path.join(run, "exported", "policy.pt"))
    torch.testing.assert_close(jit(obs["policy"]), expected, atol=1e-5, rtol=1e-5)
    session = onnxruntime.InferenceSession(os.path.join(run, "exported", "policy.onnx"))
    name = session.get_inputs()[0].name
    for row in range(len(expected)):  # rsl-rl exports a batch of one
        (onnx_out,) = session.run(None, {name: obs["policy"][row : row + 1].numpy()})
        np.testing.assert_allclose(onnx_out[0], expected[row].numpy(), atol=1e-4)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "Leap-Lift-v9"], "valid tasks: Leap-Grasp-v0"),
        ([*TASK, "--num_envs", "0"], "must be a positive integer"),
        ([*TASK, "--seed", "-1"], "must be a non-negative integer"),
        ([*TASK, "--resume", "nowhere/model_3.pt"], "no checkpoint file or run folder"),
        ([*TASK, "--resume"], "no earlier run"),
        ([*TASK, "--action_space", "telepathy"], "unknown action space"),
        ([*TASK, "--agent", "algorithm.nope=1"], "no setting 'algorithm.nope'"),
        ([*TASK, "--agent", "algorithm.num_learning_epochs=many"], "'algorithm.num_learning_epochs' is int"),
    ],
)
def test_train_rejects_bad_input_cleanly(tmp_path, args, message):
    result = tool("train.py", *args, "--max_iterations", "1", cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "logs")


def test_corrupt_or_foreign_checkpoints_are_refused(tmp_path, trained_run):
    corrupt = tmp_path / "model_5.pt"
    corrupt.write_bytes(b"not a checkpoint")
    foreign = tmp_path / "model_6.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    _, run = trained_run
    for path, message in ((corrupt, "corrupt"), (foreign, "not a policy checkpoint"), (tmp_path / "x.pt", "not found")):
        for name, flag in (("play.py", "--checkpoint"), ("train.py", "--resume")):
            result = tool(name, *TASK, flag, str(path), "--num_envs", "4", cwd=tmp_path)
            assert result.returncode != 0 and message in result.stderr, (name, result.stderr)
            assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "logs")


def test_benchmarks_report_rollout_update_and_push_figures(tmp_path, priors):
    args = [*TASK, "--num_envs", "8", "--num_steps", "4", "--rounds", "1", "--ppo_iterations", "1"]
    args += ["--action_space", "rfs_hand_arm", "--prior_checkpoint", priors["hand_arm"], "--out", "ppo.json"]
    result = tool("benchmark.py", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    figures = json.loads((tmp_path / "ppo.json").read_text())
    assert figures["action_space"] == "rfs_hand_arm"
    for key in ("ppo_env_steps_per_s", "ppo_rollout_s_per_iteration", "ppo_update_s_per_iteration", "ratio_ppo_to_raw"):
        assert figures[key] > 0, key
    assert figures["ratio_ppo_to_raw"] == figures["ppo_env_steps_per_s"] / figures["raw_physics_env_steps_per_s"]

    args = ["--task", "Leap-Grasp-v0", "--num_states", "16", "--num_envs", "4", "--repeats", "1", "--euler_steps", "3,1",
            "--out", "push.json"]  # fmt: skip
    result = tool("benchmark_push.py", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    priors_timed = json.loads((tmp_path / "push.json").read_text())["priors"]
    assert {"hand_cpu_3_steps", "hand_cpu_1_steps", "hand_arm_cpu_3_steps", "hand_arm_cpu_1_steps"} <= set(priors_timed)
    assert all(entry["push_share_of_env_step"] > 0 for entry in priors_timed.values())
    bad = tool("benchmark_push.py", "--task", "Leap-Grasp-v0", "--euler_steps", "2,x", cwd=tmp_path)
    assert bad.returncode == 2 and "comma-separated integers" in bad.stderr


def test_benchmark_steps_the_task_with_a_policy(tmp_path, trained_run):
    _, run = trained_run
    args = [*TASK, "--num_envs", "4", "--num_steps", "3", "--rounds", "1", "--out", "policy.json"]
    result = tool("benchmark.py", *args, "--checkpoint", os.path.join(run, "model_1.pt"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    figures = json.loads((tmp_path / "policy.json").read_text())
    assert figures["actions"] == "policy" and figures["action_space"] == "rel_joint"
    assert figures["task_env_steps_per_s"] > 0 and figures["raw_physics_env_steps_per_s"] > 0


def test_step_soak_reports_every_action_pattern(tmp_path):
    args = ["steps", "--env_steps", "100", "--num_envs", "4", "--tasks", "Leap-Grasp-v0", "--out", "soak.json"]
    result = tool("soak.py", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "soak.json").read_text())["tasks"]["Leap-Grasp-v0"]
    assert set(rows) == {"uniform", "saturated", "alternating", "out_of_range"}
    assert sum(row["env_steps"] for row in rows.values()) >= 100
    assert all(row["crash"] is None and row["non_finite_steps"] == 0 for row in rows.values())
