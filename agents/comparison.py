"""Compare a task's action spaces, Table 1 style: methods x seeds (x the task's comparison split, e.g. pinch and
power grasps trained apart) at one equal budget of environment (control) steps.

Every run is a real PPO run (agents/training.py; a chunked method gets fewer policy decisions for the same
control steps), then an evaluation of its final checkpoint (isaac_tasks/evaluation/report.py). Each run's
result is written atomically to <out>/runs/<method>_<split>_seed<seed>/result.json; a finished run is reused
and an interrupted one resumes from its last checkpoint (or starts again without one), so an interrupted
comparison resumes. The report (report.md, report.json) gives the task's primary metric as mean and std over
seeds per split value and overall (their mean), with the penetration-infeasible fraction; curves.png shows
the training metric against environment steps.
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from agents.training import train  # noqa: E402
from isaac_tasks import env_class, make_agent_cfg, make_env  # noqa: E402
from isaac_tasks.action_spaces import action_space_class  # noqa: E402
from isaac_tasks.evaluation.report import evaluate_checkpoint, policy_infos  # noqa: E402


@dataclass(kw_only=True)
class ComparisonCfg:
    task: str
    methods: list[str]
    env_steps: int  # control steps per run
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    num_envs: int = 256
    num_threads: int = 0
    eval_episodes: int = 1024
    inputs: dict[str, str] = field(default_factory=dict)  # kind of file (prior_hand, demos, ...) -> path


def method_settings(cfg: ComparisonCfg, method: str) -> dict[str, str]:
    """The config settings naming the files a method reads, from `cfg.inputs`; ValueError if one is missing."""
    space = action_space_class(env_class(cfg.task).action_spaces, method)
    settings = {}
    for setting, kind in space.inputs().items():
        if not cfg.inputs.get(kind):
            raise ValueError(f"method '{method}' needs --{kind}")
        settings[setting] = cfg.inputs[kind]
    return settings


def check(cfg: ComparisonCfg) -> None:
    """Every method known and every file it reads readable and fitting, before the first run."""
    spaces = env_class(cfg.task).action_spaces
    for method in cfg.methods:
        if method not in spaces:
            raise ValueError(f"unknown method '{method}'; available: {', '.join(spaces)}")
        space = action_space_class(spaces, method)
        for setting, path in method_settings(cfg, method).items():
            space.check_input(cfg.task, setting, path)


def splits(task: str) -> tuple[str | None, tuple[str, ...]]:
    return env_class(task).comparison_split or (None, ("all",))


def chunk_length(cfg: ComparisonCfg, method: str) -> int:
    """Control steps per decision of a method (a flow-prior chunk is as long as its prior's horizon)."""
    probe = make_env(cfg.task, num_envs=1, num_threads=1, action_space=method, **method_settings(cfg, method))
    return getattr(probe, "chunk_length", 1)


def run_one(cfg: ComparisonCfg, out: str, method: str, seed: int, split: str, chunk: int) -> dict:
    """Train and evaluate one run of a method making `chunk` control steps per decision (or read its result)."""
    run_dir = os.path.join(out, "runs", f"{method}_{split}_seed{seed}")
    result_path = os.path.join(run_dir, "result.json")
    if os.path.isfile(result_path):
        with open(result_path) as f:
            return json.load(f)
    setting, _ = splits(cfg.task)
    settings = {"num_envs": cfg.num_envs, "seed": seed, "num_threads": cfg.num_threads, "action_space": method}
    settings.update(method_settings(cfg, method))
    if setting:
        settings[setting] = split
    per_iteration = cfg.num_envs * make_agent_cfg(cfg.task)["num_steps_per_env"] * chunk
    iterations = max(1, math.ceil(cfg.env_steps / per_iteration))
    agent_cfg = {**make_agent_cfg(cfg.task), "seed": seed, "max_iterations": iterations, "experiment_name": "run"}
    experiment_dir = os.path.join(run_dir, "logs", "run")
    checkpoints = glob.glob(os.path.join(experiment_dir, "*", "model_*.pt"))
    if not checkpoints:  # an interrupted run with no checkpoint yet: start it again
        shutil.rmtree(os.path.join(run_dir, "logs"), ignore_errors=True)
    newest = max(checkpoints, key=lambda p: int(os.path.basename(p)[6:-3])) if checkpoints else None
    train(cfg.task, settings, agent_cfg, experiment_dir, newest)
    (train_dir,) = glob.glob(os.path.join(experiment_dir, "*"))
    checkpoint = max(glob.glob(os.path.join(train_dir, "model_*.pt")), key=lambda p: int(os.path.basename(p)[6:-3]))
    evaluation_settings = {"num_envs": cfg.num_envs, "seed": seed, "num_threads": cfg.num_threads}
    if setting:
        evaluation_settings[setting] = split
    info = policy_infos(cfg.task, checkpoint)
    report, _ = evaluate_checkpoint(cfg.task, checkpoint, info, evaluation_settings, cfg.eval_episodes, 1.0, [], 1)
    metric = env_class(cfg.task).primary_metric
    result = {
        "method": method,
        "seed": seed,
        "split": split,
        "metric": metric,
        "value": report["metrics"][metric],
        "infeasible_fraction": report.get("penetration", {}).get("infeasible_fraction", float("nan")),
        "iterations": iterations,
        "env_steps": iterations * per_iteration,
        "train_dir": train_dir,
    }
    with open(result_path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(result_path + ".tmp", result_path)
    return result


def summarize(results: list[dict], methods: list[str], values: tuple[str, ...]) -> dict:
    """Per method: mean and std over seeds of each split value and of their mean, and the infeasible fraction."""
    table = {}
    for method in methods:
        rows = [r for r in results if r["method"] == method]
        per_seed: dict[int, dict[str, float]] = {}
        for r in rows:
            per_seed.setdefault(r["seed"], {})[r["split"]] = r["value"]
        entry = {}
        for value in values:
            found = [seed[value] for seed in per_seed.values()]
            entry[value] = {"mean": float(np.mean(found)), "std": float(np.std(found))}
        overall = [np.mean([seed[v] for v in values]) for seed in per_seed.values()]
        entry["overall"] = {"mean": float(np.mean(overall)), "std": float(np.std(overall))}
        entry["infeasible_fraction"] = float(np.mean([r["infeasible_fraction"] for r in rows]))
        table[method] = entry
    return table


def plot_curves(results: list[dict], methods: list[str], values: tuple[str, ...], metric: str, path: str) -> None:
    fig, axes = plt.subplots(1, len(values), figsize=(5.5 * len(values), 4), sharey=True, squeeze=False)
    for ax, value in zip(axes[0], values, strict=True):
        for method in methods:
            curves = []
            for r in (r for r in results if r["method"] == method and r["split"] == value):
                events = EventAccumulator(r["train_dir"], size_guidance={"scalars": 0})
                events.Reload()
                if f"Metrics/{metric}" in events.Tags()["scalars"]:
                    per_iteration = r["env_steps"] / r["iterations"]
                    curves.append([(p.step * per_iteration, p.value) for p in events.Scalars(f"Metrics/{metric}")])
            if curves:
                length = min(len(c) for c in curves)
                steps = [point[0] for point in curves[0][:length]]
                mean = np.mean([[point[1] for point in c[:length]] for c in curves], axis=0)
                ax.plot(steps, mean, label=method)
        ax.set_title(value)
        ax.set_xlabel("environment steps")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"{metric} (training episodes, mean over seeds)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out: str, cfg: ComparisonCfg, table: dict, values: tuple[str, ...], metric: str) -> None:
    report = {"task": cfg.task, "metric": metric, "env_steps": cfg.env_steps, "seeds": cfg.seeds, "methods": table}
    with open(os.path.join(out, "report.json.tmp"), "w") as f:
        json.dump(report, f, indent=2)
    os.replace(os.path.join(out, "report.json.tmp"), os.path.join(out, "report.json"))
    columns = ["overall", *values] if values != ("all",) else ["overall"]
    lines = [
        f"# {cfg.task}: action spaces compared ({cfg.env_steps:,} environment steps, seeds {cfg.seeds}; {metric})",
        "",
        "| method | " + " | ".join(columns) + " | infeasible (> 0.5 cm) |",
        "|---" * (len(columns) + 2) + "|",
    ]
    for method, e in table.items():
        cells = [f"{e[k]['mean']:.3f} ± {e[k]['std']:.3f}" for k in columns]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {e['infeasible_fraction']:.3f} |")
    with open(os.path.join(out, "report.md.tmp"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(os.path.join(out, "report.md.tmp"), os.path.join(out, "report.md"))


def compare(cfg: ComparisonCfg, out: str) -> str:
    """Run (or resume) the comparison into `out`; returns the Markdown report."""
    check(cfg)
    os.makedirs(out, exist_ok=True)
    _, values = splits(cfg.task)
    results = []
    for method in cfg.methods:
        chunk = chunk_length(cfg, method)
        for seed in cfg.seeds:
            for value in values:
                print(f"{method}, seed {seed}, {value}", flush=True)
                results.append(run_one(cfg, out, method, seed, value, chunk))
    metric = env_class(cfg.task).primary_metric
    write_report(out, cfg, summarize(results, cfg.methods, values), values, metric)
    plot_curves(results, cfg.methods, values, metric, os.path.join(out, "curves.png"))
    with open(os.path.join(out, "report.md")) as f:
        return f.read()
