"""Plot training curves from TensorBoard logs of one or more runs.

    python tools/plot_curves.py logs/rsl_rl/leap_grasp/<run> --tags Train/mean_reward Metrics/success_rate --out curves.png

Each tag gets a panel; each run a line, against environment steps (iteration x steps per iteration,
read from the run's params/agent.json and params/env.json) or iterations when those are missing.
"""

from __future__ import annotations

import argparse
import json
import os

import cli

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def steps_per_iteration(run: str) -> int | None:
    try:
        with open(os.path.join(run, "params", "agent.json")) as f:
            agent = json.load(f)
        with open(os.path.join(run, "params", "env.json")) as f:
            env = json.load(f)
    except (OSError, ValueError):
        return None
    return agent["num_steps_per_env"] * env["num_envs"]


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run folders holding TensorBoard event files")
    parser.add_argument("--tags", nargs="+", default=["Train/mean_reward", "Metrics/success_rate"])
    parser.add_argument("--out", type=cli.output_file, required=True, help="PNG file")
    args = parser.parse_args()

    fig, axes = plt.subplots(1, len(args.tags), figsize=(5 * len(args.tags), 3.6), squeeze=False)
    for run in args.runs:
        if not os.path.isdir(run):
            raise FileNotFoundError(f"no run folder at {run}")
        events = EventAccumulator(run, size_guidance={"scalars": 0})
        events.Reload()
        scale = steps_per_iteration(run)
        if not events.Tags()["scalars"]:
            raise ValueError(f"{run}: no TensorBoard scalars (not a run folder)")
        for ax, tag in zip(axes[0], args.tags, strict=True):
            if tag not in events.Tags()["scalars"]:
                raise ValueError(f"{run} has no scalar '{tag}'; it has: {', '.join(sorted(events.Tags()['scalars']))}")
            points = events.Scalars(tag)
            x = [p.step * (scale or 1) for p in points]
            ax.plot(x, [p.value for p in points], label=os.path.basename(os.path.normpath(run)))
            ax.set_title(tag)
            ax.set_xlabel("environment steps" if scale else "iteration")
            ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    root, ext = os.path.splitext(args.out)
    fig.savefig(root + ".tmp" + ext, dpi=120)
    os.replace(root + ".tmp" + ext, args.out)
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    cli.run_main(main)
