"""tools/evaluate.py: reports, the sweep point that repeats the plain evaluation, penetration, bad input."""

import glob
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tool(name, *args, cwd):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", name), *args], cwd=cwd, capture_output=True, text=True, timeout=900
    )


def train_one(task, cwd, *extra):
    result = tool("train.py", "--task", task, "--num_envs", "8", "--max_iterations", "1", *extra, cwd=cwd)
    assert result.returncode == 0, result.stderr
    (checkpoint,) = glob.glob(str(cwd / "logs/rsl_rl/*/*/model_0.pt"))
    return checkpoint


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return {
        "Leap-Grasp-v0": train_one("Leap-Grasp-v0", tmp_path_factory.mktemp("grasp"), "--env", "grasp_type=pinch"),
        "Orca-Cube-Rotate-v0": train_one("Orca-Cube-Rotate-v0", tmp_path_factory.mktemp("cube")),
    }


def evaluate(task, checkpoint, out, *extra):
    args = ["--task", task, "--checkpoint", checkpoint, "--num_envs", "8", "--episodes", "8", "--sweep_episodes", "8"]
    return tool("evaluate.py", *args, "--out", str(out), *extra, cwd=out.parent)


def test_rotation_report_and_nominal_sweep_reproduces_the_plain_evaluation(checkpoints, tmp_path):
    out = tmp_path / "report"
    result = evaluate("Orca-Cube-Rotate-v0", checkpoints["Orca-Cube-Rotate-v0"], out, "--sweep", "1,3")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    (entry,) = report["checkpoints"].values()
    for key in ("rpm", "rotation_turns", "drop_rate"):
        assert key in entry["metrics"]
    robustness = entry["robustness"]
    assert robustness["scale"] == [1.0, 3.0] and robustness["metric"] == "rotation_turns"
    assert entry["metrics"]["rotation_turns"] != 0.0  # a continuous value: equality below is no accident
    assert robustness["value"][0] == pytest.approx(entry["metrics"]["rotation_turns"], abs=1e-9)
    assert (out / "robustness.png").stat().st_size > 0 and (out / "report.md").read_text().startswith("# Evaluation")


def test_grasp_report_has_success_split_and_penetration(checkpoints, tmp_path):
    out = tmp_path / "report"
    result = evaluate("Leap-Grasp-v0", checkpoints["Leap-Grasp-v0"], out, "--sweep", "1,2", "--env", "grasp_type=all")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads((out / "report.json").read_text())["checkpoints"].values()
    assert entry["settings"]["grasp_type"] == "all"  # the command line over what the policy was trained on
    assert {"success_rate", "success_pinch", "success_power"} <= set(entry["metrics"])
    penetration = entry["penetration"]
    assert 0.0 <= penetration["infeasible_fraction"] <= 1.0
    assert penetration["hand_hand"]["max_cm"] >= penetration["hand_hand"]["median_cm"] >= 0.0
    assert entry["robustness"]["value"][0] == entry["metrics"]["success_rate"]
    assert (out / "penetration.png").stat().st_size > 0


def test_a_policy_of_one_grasp_family_is_evaluated_on_it(checkpoints, tmp_path):
    """Trained on pinch objects alone (the paper's per-family policies), it is evaluated on them by default."""
    out = tmp_path / "report"
    result = evaluate("Leap-Grasp-v0", checkpoints["Leap-Grasp-v0"], out, "--sweep", "1")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads((out / "report.json").read_text())["checkpoints"].values()
    assert entry["settings"]["grasp_type"] == "pinch"
    assert "success_pinch" in entry["metrics"] and "success_power" not in entry["metrics"]
    assert "grasp_type=pinch" in (out / "report.md").read_text()


def test_scripted_demonstrator_is_evaluated_per_object(tmp_path):
    out = tmp_path / "report"
    result = evaluate("Leap-Grasp-v0", "scripted", out, "--sweep", "1", "--num_envs", "12", "--episodes", "12")
    assert result.returncode == 0, result.stderr
    assert "  evaluation: 12/12 episodes\n" in result.stdout
    (entry,) = json.loads((out / "report.json").read_text())["checkpoints"].values()
    splits = ("success_rate", "success_pinch", "success_power")
    per_object = {k for k in entry["metrics"] if k.startswith("success_") and k not in splits}
    assert per_object == {f"success_{name}" for name in ("marker", "dice", "eraser", "golf_ball", "battery", "spool",
                                                          "bottle", "can", "cereal_box", "ball", "plush_bunny", "plush_roll")}  # fmt: skip
    assert "infeasible_fraction" in entry["penetration"]
    scripted = evaluate("Orca-Cube-Rotate-v0", "scripted", tmp_path / "orca")
    assert scripted.returncode == 2 and "has no scripted demonstrator" in scripted.stderr


@pytest.mark.parametrize("variant", ["hand_arm", "hand"])
def test_a_prior_alone_is_evaluated_as_train_prior_evaluates_it(priors, variant, tmp_path):
    """A flow prior given as the checkpoint acts alone (chunks from a0 ~ N(0, I); the hand prior's arm moved by
    the demonstrator), with the same episodes as tools/train_prior.py's own evaluation."""
    from agents.flow_matching import FlowPrior
    from agents.prior_training import PriorTrainingCfg, evaluate_prior

    out = tmp_path / "report"
    result = evaluate("Leap-Grasp-v0", priors[variant], out, "--sweep", "1", "--env", "finger_guard=0.002")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads((out / "report.json").read_text())["checkpoints"].values()
    assert entry["settings"]["finger_guard"] == 0.002
    model, _ = FlowPrior.load(priors[variant])
    plain = evaluate("Leap-Grasp-v0", priors[variant], tmp_path / "plain", "--sweep", "1")
    assert plain.returncode == 0, plain.stderr
    (plain_entry,) = json.loads((tmp_path / "plain" / "report.json").read_text())["checkpoints"].values()
    own = evaluate_prior(model, "Leap-Grasp-v0", PriorTrainingCfg(variant=variant, eval_episodes=8, num_envs=8))
    assert own["success_rate"] == plain_entry["metrics"]["success_rate"]
    assert own["infeasible_fraction"] == plain_entry["penetration"]["infeasible_fraction"]
    played = tool("play.py", "--task", "Leap-Grasp-v0", "--checkpoint", priors[variant], "--num_envs", "4",
                  "--episodes", "4", cwd=tmp_path)  # fmt: skip
    assert played.returncode == 0 and "no policy network to export" in played.stdout, played.stderr
    other = evaluate("Orca-Grasp-v0", priors[variant], tmp_path / "orca", "--sweep", "1")
    assert other.returncode != 0 and "prior of Leap-Grasp-v0" in other.stderr and "Traceback" not in other.stderr


@pytest.mark.parametrize("case", ["empty_sweep", "negative_sweep", "missing", "corrupt", "other_task"])
def test_bad_input_gives_an_error_and_no_report(checkpoints, tmp_path, case):
    task, checkpoint, extra = "Leap-Grasp-v0", checkpoints["Leap-Grasp-v0"], []
    if case == "empty_sweep":
        extra, message = ["--sweep", ""], "empty"
    elif case == "negative_sweep":
        extra, message = ["--sweep", "0,-1"], "non-negative"
    elif case == "missing":
        checkpoint, message = str(tmp_path / "model_9.pt"), "not found"
    elif case == "corrupt":
        checkpoint, message = str(tmp_path / "model_9.pt"), "corrupt"
        (tmp_path / "model_9.pt").write_bytes(b"\x00" * 64)
    else:
        task, message = "Orca-Cube-Rotate-v0", "trained on task 'Leap-Grasp-v0'"
    out = tmp_path / "report"
    result = evaluate(task, checkpoint, out, *extra)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not [name for name in os.listdir(tmp_path) if name.startswith(".")]
