"""Compare action spaces on Leap-Grasp-v0: methods x seeds x grasp types at equal environment-step budgets.

    python tools/compare.py --methods rel_joint rfs_hand dsrl_hand --seeds 0 1 2 --env_steps 2000000 \
        --prior_hand <hand prior.pt> --prior_hand_arm <hand_arm prior.pt> --demos <demos.hdf5> --vqvae <vqvae.pt> --out comparison/

Every run is a real `tools/train.py` run (budget: control steps, so a chunked method gets fewer policy
decisions), then `tools/evaluate.py` on its final checkpoint. The report (report.md, report.json) gives
success as mean and std over seeds for pinch, power and overall (their mean), as the paper's Table 1,
with the penetration-infeasible fraction; curves.png shows success against environment steps. Runs
already finished under --out are reused, so an interrupted comparison resumes.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import shutil
import subprocess
import sys

import cli

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from agents import prior_data  # noqa: E402
from agents.demonstrations import load_demos  # noqa: E402
from agents.flow_matching import FlowPrior  # noqa: E402
from agents.vqvae import FingerVQVAE  # noqa: E402
from isaac_tasks import env_class, make_agent_cfg, make_prior_io  # noqa: E402
from isaac_tasks.action_spaces import action_space_class  # noqa: E402

TASK = "Leap-Grasp-v0"
TOOLS = os.path.dirname(os.path.abspath(__file__))
GRASP_TYPES = ("pinch", "power")


def check_input(key: str, path: str) -> None:
    """Read the file of option `key` as the methods will, so that a wrong or damaged one stops the comparison
    before its first run."""
    if key.startswith("prior_"):
        variant = key.removeprefix("prior_")
        model, metadata = FlowPrior.load(path)
        prior_data.check_prior(path, model.config, metadata, TASK, make_prior_io(TASK), variant, f"--{key}")
    elif key == "demos":
        load_demos(path, TASK)
    else:
        FingerVQVAE.load(path)


def needs(method: str) -> list[str]:
    """The extra train.py flags of a method's action space, by name of the compare.py option they come from."""
    if method == "pca":
        return ["demos"]
    if method == "vqvae":
        return ["vqvae"]
    if method.startswith(("rfs", "dsrl", "residual")):
        return ["prior_hand_arm" if method.endswith("hand_arm") else "prior_hand"]
    return []


def run_tool(name: str, args: list[str]) -> None:
    result = subprocess.run([sys.executable, os.path.join(TOOLS, name), *args], text=True, capture_output=True)
    if result.returncode != 0:
        raise ValueError(f"{name} {' '.join(args)} failed:\n{result.stderr.strip()[-2000:]}")


def train_and_evaluate(args, method: str, seed: int, grasp: str) -> dict:
    run_dir = os.path.join(args.out, "runs", f"{method}_{grasp}_seed{seed}")
    result_path = os.path.join(run_dir, "result.json")
    if os.path.isfile(result_path):
        with open(result_path) as f:
            return json.load(f)
    chunk = getattr(action_space_class(env_class(TASK).action_spaces, method), "chunk_length", 1)
    if chunk > 1 and "prior_hand" in needs(method):  # a flow-prior chunk is as long as the prior's horizon
        from agents.flow_matching import FlowPrior

        chunk = FlowPrior.load(args.prior_hand)[0].horizon
    per_iteration = args.num_envs * make_agent_cfg(TASK)["num_steps_per_env"] * chunk
    iterations = max(1, math.ceil(args.env_steps / per_iteration))
    extra = {
        "demos": "--demos_path",
        "prior_hand": "--prior_checkpoint",
        "prior_hand_arm": "--prior_checkpoint",
        "vqvae": "--vqvae_checkpoint",
    }
    flags = [arg for key in needs(method) for arg in (extra[key], getattr(args, key))]
    common = [
        "--task",
        TASK,
        "--seed",
        str(seed),
        "--num_envs",
        str(args.num_envs),
        "--num_threads",
        str(args.num_threads),
    ]
    train_args = ["--action_space", method, "--grasp_type", grasp, "--max_iterations", str(iterations)]
    log_root = os.path.join(run_dir, "logs")
    resume = []
    if glob.glob(os.path.join(log_root, "run", "*", "model_*.pt")):
        resume = ["--resume"]
    else:  # an interrupted run with no checkpoint yet: start it again
        shutil.rmtree(log_root, ignore_errors=True)
    run_tool("train.py", [*common, *train_args, *flags, "--log_root", log_root, "--experiment_name", "run", *resume])
    (train_dir,) = glob.glob(os.path.join(log_root, "run", "*"))
    checkpoint = max(glob.glob(os.path.join(train_dir, "model_*.pt")), key=lambda p: int(os.path.basename(p)[6:-3]))
    report_dir = os.path.join(run_dir, "evaluation")
    run_tool("evaluate.py", [*common, "--checkpoint", checkpoint, "--episodes", str(args.eval_episodes),
                             "--sweep", "0", "--sweep_episodes", "1", "--out", report_dir])  # fmt: skip
    with open(os.path.join(report_dir, "report.json")) as f:
        (evaluation,) = json.load(f)["checkpoints"].values()
    metrics = evaluation["metrics"]
    result = {
        "method": method,
        "seed": seed,
        "grasp_type": grasp,
        "success": metrics.get(f"success_{grasp}", metrics["success_rate"]),
        "infeasible_fraction": evaluation["penetration"]["infeasible_fraction"],
        "iterations": iterations,
        "env_steps": iterations * per_iteration,
        "train_dir": train_dir,
    }
    with open(result_path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(result_path + ".tmp", result_path)
    return result


def summarize(results: list[dict], methods: list[str]) -> dict:
    table = {}
    for method in methods:
        rows = [r for r in results if r["method"] == method]
        per_seed = {}
        for r in rows:
            per_seed.setdefault(r["seed"], {})[r["grasp_type"]] = r["success"]
        entry = {}
        for grasp in GRASP_TYPES:
            values = [seed[grasp] for seed in per_seed.values()]
            entry[grasp] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
        overall = [np.mean([seed[g] for g in GRASP_TYPES]) for seed in per_seed.values()]
        entry["overall"] = {"mean": float(np.mean(overall)), "std": float(np.std(overall))}
        entry["infeasible_fraction"] = float(np.mean([r["infeasible_fraction"] for r in rows]))
        table[method] = entry
    return table


def plot_curves(results: list[dict], methods: list[str], path: str) -> None:
    fig, axes = plt.subplots(1, len(GRASP_TYPES), figsize=(11, 4), sharey=True)
    for ax, grasp in zip(axes, GRASP_TYPES, strict=True):
        for method in methods:
            curves = []
            for r in (r for r in results if r["method"] == method and r["grasp_type"] == grasp):
                events = EventAccumulator(r["train_dir"], size_guidance={"scalars": 0})
                events.Reload()
                if "Metrics/success_rate" in events.Tags()["scalars"]:
                    per_iteration = r["env_steps"] / r["iterations"]
                    curves.append([(p.step * per_iteration, p.value) for p in events.Scalars("Metrics/success_rate")])
            if curves:
                length = min(len(c) for c in curves)
                steps = [point[0] for point in curves[0][:length]]
                mean = np.mean([[point[1] for point in c[:length]] for c in curves], axis=0)
                ax.plot(steps, mean, label=method)
        ax.set_title(f"{grasp} grasps")
        ax.set_xlabel("environment steps")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("success rate (training episodes, mean over seeds)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out: str, table: dict, args) -> None:
    with open(os.path.join(out, "report.json.tmp"), "w") as f:
        json.dump({"task": TASK, "env_steps": args.env_steps, "seeds": args.seeds, "methods": table}, f, indent=2)
    os.replace(os.path.join(out, "report.json.tmp"), os.path.join(out, "report.json"))
    lines = [
        f"# {TASK}: action spaces compared ({args.env_steps:,} environment steps, seeds {args.seeds})",
        "",
        "| method | overall | pinch | power | infeasible (> 0.5 cm) |",
        "|---|---|---|---|---|",
    ]
    for method, e in table.items():
        cells = [f"{e[k]['mean']:.3f} ± {e[k]['std']:.3f}" for k in ("overall", "pinch", "power")]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {e['infeasible_fraction']:.3f} |")
    with open(os.path.join(out, "report.md.tmp"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(os.path.join(out, "report.md.tmp"), os.path.join(out, "report.md"))


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--methods", nargs="+", required=True, help=f"action spaces: {', '.join(env_class(TASK).action_spaces)}"
    )
    parser.add_argument("--seeds", nargs="+", type=cli.non_negative_int, default=[0, 1, 2])
    parser.add_argument("--env_steps", type=cli.positive_int, required=True, help="control steps per run")
    parser.add_argument("--num_envs", type=cli.positive_int, default=256)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0)
    parser.add_argument("--eval_episodes", type=cli.positive_int, default=1024)
    parser.add_argument(
        "--prior_hand", type=cli.existing_file, help="hand prior for rfs_hand, rfs_chunk_hand, dsrl_hand"
    )
    parser.add_argument(
        "--prior_hand_arm",
        type=cli.existing_file,
        help="hand+arm prior for rfs_hand_arm, dsrl_hand_arm, residual_hand_arm",
    )
    parser.add_argument("--demos", type=cli.existing_file, help="demonstrations for pca")
    parser.add_argument("--vqvae", type=cli.existing_file, help="finger-motion VQ-VAE for vqvae (tools/train_vqvae.py)")
    parser.add_argument("--out", type=cli.output_folder, required=True, help="report folder (runs resume from it)")
    args = parser.parse_args()
    for method in args.methods:
        if method not in env_class(TASK).action_spaces:
            raise ValueError(f"unknown method '{method}'; available: {', '.join(env_class(TASK).action_spaces)}")
        for key in needs(method):
            if not getattr(args, key):
                raise ValueError(f"method '{method}' needs --{key}")
            check_input(key, getattr(args, key))
    os.makedirs(args.out, exist_ok=True)
    results = []
    for method in args.methods:
        for seed in args.seeds:
            for grasp in GRASP_TYPES:
                print(f"{method}, seed {seed}, {grasp}", flush=True)
                results.append(train_and_evaluate(args, method, seed, grasp))
    table = summarize(results, args.methods)
    write_report(args.out, table, args)
    plot_curves(results, args.methods, os.path.join(args.out, "curves.png"))
    with open(os.path.join(args.out, "report.md")) as f:
        print(f.read())


if __name__ == "__main__":
    cli.run_main(main)
