"""tools/compare.py end to end on a tiny budget: real training and evaluation runs, report, resume."""

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compare(*args, cwd):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "compare.py"), "--task", "Leap-Grasp-v0", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_comparison_report_equal_budgets_and_resume(priors, tmp_path):
    args = ["--methods", "rel_joint", "rfs_chunk_hand", "--seeds", "0", "--env_steps", "300", "--num_envs", "4",
            "--eval_episodes", "4", "--prior_hand", priors["hand"], "--out", str(tmp_path / "cmp")]  # fmt: skip
    stale = tmp_path / "cmp" / "runs" / "rel_joint_pinch_seed0" / "logs" / "run" / "killed_before_a_checkpoint"
    stale.mkdir(parents=True)
    result = compare(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not stale.exists()  # an interrupted run without a checkpoint starts again
    report = json.loads((tmp_path / "cmp" / "report.json").read_text())
    for method in ("rel_joint", "rfs_chunk_hand"):
        entry = report["methods"][method]
        assert {"overall", "pinch", "power"} <= set(entry) and 0.0 <= entry["infeasible_fraction"] <= 1.0
    runs = [json.loads(p.read_text()) for p in (tmp_path / "cmp" / "runs").glob("*/result.json")]
    assert len(runs) == 4
    # equal control-step budgets: the chunked method makes two control steps per decision
    budgets = {r["method"]: r["env_steps"] for r in runs}
    assert budgets["rel_joint"] == budgets["rfs_chunk_hand"]
    assert (tmp_path / "cmp" / "curves.png").stat().st_size > 0
    assert "| rfs_chunk_hand |" in (tmp_path / "cmp" / "report.md").read_text()
    start = time.time()
    again = compare(*args, cwd=tmp_path)  # finished runs are reused, not retrained
    assert again.returncode == 0 and time.time() - start < 60


def test_a_method_without_its_prior_is_refused(tmp_path):
    result = compare("--methods", "dsrl_hand_arm", "--env_steps", "100", "--out", str(tmp_path / "cmp"), cwd=tmp_path)
    assert result.returncode != 0 and "needs --prior_hand_arm" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "cmp").exists()
