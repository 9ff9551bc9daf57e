"""Evaluation reports: task metrics over many episodes, penetration depth, robustness to disturbances.

Episodes run with the task's external disturbances, as it trains; the robustness sweep repeats the
evaluation at each scale of the task's nominal disturbance torques. Where the task measures
penetration (its `state_measures`), each episode's deepest finger-finger and hand-object depths are
reported; an episode whose fingers penetrate each other deeper than 0.5 cm is infeasible (paper 000,
A.2.3). `tools/evaluate.py` is its command line.
"""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from agents.ppo_runner import env_defaults, env_overrides  # noqa: E402
from distill.policy import load_any_policy, read_policy_infos  # noqa: E402
from isaac_tasks import load_entry_point, make_agent_cfg, make_env, task_entry  # noqa: E402
from isaac_tasks.evaluation.penetration import INFEASIBLE_DEPTH, infeasible  # noqa: E402
from isaac_tasks.evaluation.rollout import run_episodes, summarize  # noqa: E402

SCRIPTED = "scripted"  # the checkpoint name of a task's scripted demonstrator


def depth_summary(depth: torch.Tensor) -> dict[str, float]:
    d = depth.double().numpy()
    return {
        "mean_cm": 100 * float(d.mean()),
        "median_cm": 100 * float(np.median(d)),
        "p95_cm": 100 * float(np.percentile(d, 95)),
        "max_cm": 100 * float(d.max()),
    }


def policy_infos(task: str, checkpoint: str) -> dict:
    """The settings a checkpoint (or SCRIPTED) needs from its environment, read and checked before any work."""
    if checkpoint != SCRIPTED:
        return read_policy_infos(checkpoint, task)
    if not task_entry(task).scripted_policy:
        raise ValueError(f"--checkpoint {SCRIPTED}: task '{task}' has no scripted demonstrator")
    return dict(task_entry(task).scripted_env)


def load_policy(env, task: str, checkpoint: str):
    """The policy of a checkpoint, or the task's scripted demonstrator for SCRIPTED."""
    if checkpoint == SCRIPTED:
        return load_entry_point(task_entry(task).scripted_policy)(env)
    return load_any_policy(env, task, checkpoint, make_agent_cfg(task))[1]


def evaluate_checkpoint(
    task: str,
    checkpoint: str,
    info: dict,
    settings: dict,
    episodes: int,
    disturbance_scale: float,
    sweep: list[float],
    sweep_episodes: int,
) -> tuple[dict, dict[str, torch.Tensor]]:
    """(report, per-episode values) of one checkpoint: `episodes` episodes at `disturbance_scale` with
    the task's state measures (penetration), then `sweep_episodes` at each scale of `sweep`."""

    settings = {**env_defaults(info), **settings}

    def env_with(scale: float):
        return make_env(task, **{**env_overrides(info), **settings, "disturbance_scale": scale})

    env = env_with(disturbance_scale)
    policy = load_policy(env, task, checkpoint)
    values = run_episodes(env, policy, episodes, env.state_measures(), label="evaluation: ")
    report = {"disturbance_scale": disturbance_scale, "settings": settings}
    report["metrics"] = {k: v for k, v in summarize(values, env).items() if not k.startswith("penetration")}
    if "penetration_hand_hand" in values:
        report["penetration"] = {
            "hand_hand": depth_summary(values["penetration_hand_hand"]),
            "hand_object": depth_summary(values["penetration_hand_object"]),
            "infeasible_fraction": float(infeasible(values["penetration_hand_hand"]).mean()),
        }
    metric = env.primary_metric
    report["robustness"] = {
        "metric": metric,
        "scale": [],
        "value": [],
        "nominal_torque_nm": env.disturbance_nominal.tolist(),
    }
    for scale in sweep:
        env = env_with(scale)
        policy = load_policy(env, task, checkpoint)
        swept = run_episodes(env, policy, sweep_episodes, label=f"disturbance x{scale}: ")
        report["robustness"]["scale"].append(scale)
        report["robustness"]["value"].append(float(swept[metric].float().mean()))
    return report, values


def write_report(folder: str, task: str, reports: dict[str, dict], episodes: dict[str, dict]) -> None:
    with open(os.path.join(folder, "report.json"), "w") as f:
        json.dump({"task": task, "checkpoints": reports}, f, indent=2)

    lines = [f"# Evaluation of {task}", ""]
    keys = sorted({k for r in reports.values() for k in r["metrics"]})
    lines += ["| checkpoint | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, r in reports.items():
        lines.append(f"| {name} | " + " | ".join(f"{r['metrics'].get(k, float('nan')):.3f}" for k in keys) + " |")
    for name, r in reports.items():
        if r["settings"]:
            lines.append(f"\n{name}: " + ", ".join(f"{k}={v}" for k, v in r["settings"].items()))
    if any("penetration" in r for r in reports.values()):
        lines += [
            "",
            "Penetration per episode (deepest along the trajectory), cm; infeasible: finger-finger deeper than 0.5 cm.",
            "",
        ]
        lines += [
            "| checkpoint | finger-finger median | p95 | hand-object median | p95 | infeasible fraction |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in reports.items():
            p = r["penetration"]
            lines.append(
                f"| {name} | {p['hand_hand']['median_cm']:.2f} | {p['hand_hand']['p95_cm']:.2f} | "
                f"{p['hand_object']['median_cm']:.2f} | {p['hand_object']['p95_cm']:.2f} | {p['infeasible_fraction']:.3f} |"
            )
    metric = next(iter(reports.values()))["robustness"]["metric"]
    lines += ["", f"Robustness: {metric} against disturbance scale (see robustness.png).", ""]
    for name, r in reports.items():
        pairs = ", ".join(f"x{s:g}: {v:.3f}" for s, v in zip(r["robustness"]["scale"], r["robustness"]["value"]))
        lines.append(f"- {name}: {pairs}")
    with open(os.path.join(folder, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in reports.items():
        ax.plot(r["robustness"]["scale"], r["robustness"]["value"], marker="o", label=name)
    ax.set_xlabel("disturbance scale (x nominal joint torques)")
    ax.set_ylabel(metric)
    ax.set_title(f"{task}: robustness")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "robustness.png"), dpi=120)
    plt.close(fig)

    if any("penetration_hand_hand" in e for e in episodes.values()):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, key, title in zip(
            axes, ("penetration_hand_hand", "penetration_hand_object"), ("finger-finger", "hand-object")
        ):
            for name, e in episodes.items():
                ax.hist(100 * e[key].numpy(), bins=40, histtype="step", label=name)
            ax.axvline(100 * INFEASIBLE_DEPTH, color="k", linestyle="--", linewidth=1)
            ax.set_xlabel(f"deepest {title} penetration per episode (cm)")
            ax.set_ylabel("episodes")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(folder, "penetration.png"), dpi=120)
        plt.close(fig)
