"""Evaluate checkpoints: task metrics over many episodes, penetration depth, robustness to disturbances.

    python tools/evaluate.py --task Leap-Grasp-v0 --checkpoint A/model_1499.pt B/model_1499.pt --out eval/

Writes report.json, report.md and PNG plots to --out (all at once, when every evaluation is done).
Episodes run with the task's external disturbances, as it trains (random torques on every joint every 2 to
5 steps; `--disturbance_scale` scales them, 0 turns them off); the robustness sweep then repeats the
evaluation at each scale of the task's nominal disturbance torques. Leap-Grasp-v0 also measures, for each episode, the deepest finger-finger and
hand-object penetration; an episode whose fingers penetrate each other deeper than 0.5 cm is infeasible
(paper 000, A.2.3).
"""

from __future__ import annotations

import argparse
import json
import os

import cli

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from agents.ppo_runner import env_overrides  # noqa: E402
from distill.policy import load_any_policy, read_policy_infos  # noqa: E402
from isaac_tasks import make_agent_cfg, make_env, task_entry  # noqa: E402
from assets.leap_hand import leap_hand_links  # noqa: E402
from isaac_tasks.evaluation.penetration import INFEASIBLE_DEPTH, PenetrationMeter, infeasible  # noqa: E402
from isaac_tasks.evaluation.rollout import run_episodes, summarize  # noqa: E402
from isaac_tasks.leap_grasp.scripted_grasp import ScriptedGrasp, ScriptedGraspCfg  # noqa: E402

PRIMARY_METRIC = {"Leap-Grasp-v0": "success_rate", "Orca-Cube-Rotate-v0": "rotation_turns"}
SCRIPTED = "scripted"  # --checkpoint value that evaluates the grasping task's scripted demonstrator


def grasp_penetration(env):
    """Per-step (N,) finger-finger and hand-object depths of the grasping task, one meter per object."""
    from isaac_tasks.leap_grasp.scene import OBJECT_BODY, grasp_scene

    meters = [PenetrationMeter(grasp_scene(obj), leap_hand_links(), OBJECT_BODY) for obj in env.objects]
    model = meters[0].model
    joints = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name) for name in env.physics.queries.joints]
    joint_adr = model.jnt_qposadr[joints]
    object_adr = model.jnt_qposadr[model.body_jntadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, OBJECT_BODY)]]
    index = env.object_index.cpu().numpy()

    def per_step(env) -> dict[str, torch.Tensor]:
        s = env.physics.state
        qpos = np.zeros((env.num_envs, model.nq))
        qpos[:, joint_adr] = s.joint_pos.cpu().numpy()
        qpos[:, object_adr : object_adr + 3] = s.body_pos[:, 0].cpu().numpy()
        qpos[:, object_adr + 3 : object_adr + 7] = s.body_quat[:, 0].cpu().numpy()
        hand_hand, hand_object = np.zeros(env.num_envs), np.zeros(env.num_envs)
        for k, meter in enumerate(meters):
            rows = index == k
            if rows.any():
                depth = meter.measure(qpos[rows])
                hand_hand[rows], hand_object[rows] = depth.hand_hand, depth.hand_object
        return {
            "penetration_hand_hand": torch.from_numpy(hand_hand),
            "penetration_hand_object": torch.from_numpy(hand_object),
        }

    return per_step


def depth_summary(depth: torch.Tensor) -> dict[str, float]:
    d = depth.double().numpy()
    return {
        "mean_cm": 100 * float(d.mean()),
        "median_cm": 100 * float(np.median(d)),
        "p95_cm": 100 * float(np.percentile(d, 95)),
        "max_cm": 100 * float(d.max()),
    }


def load_policy(env, task: str, checkpoint: str):
    """The policy of a checkpoint, or the task's scripted demonstrator for SCRIPTED."""
    if checkpoint == SCRIPTED:
        return ScriptedGrasp(env, ScriptedGraspCfg(), torch.Generator(device=env.device).manual_seed(env.cfg.seed))
    return load_any_policy(env, task, checkpoint, make_agent_cfg(task))[1]


def evaluate_checkpoint(args, checkpoint: str, info: dict) -> tuple[dict, dict[str, torch.Tensor]]:
    def env_with(scale: float):
        overrides = {**cli.task_overrides(args), **env_overrides(info)}
        return make_env(args.task, disturbance_scale=scale, **overrides)

    env = env_with(args.disturbance_scale)
    policy = load_policy(env, args.task, checkpoint)
    per_step = grasp_penetration(env) if args.task == "Leap-Grasp-v0" else None
    episodes = run_episodes(env, policy, args.episodes, per_step, label="evaluation: ")
    names = [obj.name for obj in getattr(env, "objects", [])]
    report = {"disturbance_scale": args.disturbance_scale}
    report["metrics"] = {k: v for k, v in summarize(episodes, names).items() if not k.startswith("penetration")}
    if per_step is not None:
        report["penetration"] = {
            "hand_hand": depth_summary(episodes["penetration_hand_hand"]),
            "hand_object": depth_summary(episodes["penetration_hand_object"]),
            "infeasible_fraction": float(infeasible(episodes["penetration_hand_hand"]).mean()),
        }
    metric = PRIMARY_METRIC[args.task]
    report["robustness"] = {
        "metric": metric,
        "scale": [],
        "value": [],
        "nominal_torque_nm": env.disturbance_nominal.tolist(),
    }
    for scale in args.sweep:
        env = env_with(scale)
        policy = load_policy(env, args.task, checkpoint)
        swept = run_episodes(env, policy, args.sweep_episodes, label=f"disturbance x{scale}: ")
        report["robustness"]["scale"].append(scale)
        report["robustness"]["value"].append(float(swept[metric].float().mean()))
    return report, episodes


def write_report(folder: str, task: str, reports: dict[str, dict], episodes: dict[str, dict]) -> None:
    with open(os.path.join(folder, "report.json"), "w") as f:
        json.dump({"task": task, "checkpoints": reports}, f, indent=2)

    lines = [f"# Evaluation of {task}", ""]
    keys = sorted({k for r in reports.values() for k in r["metrics"]})
    lines += ["| checkpoint | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, r in reports.items():
        lines.append(f"| {name} | " + " | ".join(f"{r['metrics'].get(k, float('nan')):.3f}" for k in keys) + " |")
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


def parse_sweep(text: str) -> list[float]:
    values = [cli.non_negative_float(v) for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError("is empty: give at least one disturbance scale")
    return values


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_task_args(parser, num_envs=128)
    parser.add_argument(
        "--checkpoint",
        nargs="+",
        required=True,
        help=f"model_<N>.pt (train.py), student_<N>.pt (distill.py) or '{SCRIPTED}' (the scripted demonstrator)",
    )
    parser.add_argument(
        "--out", type=cli.output_folder, required=True, help="report folder (replaced when the evaluation is complete)"
    )
    parser.add_argument("--episodes", type=cli.positive_int, default=1024)
    parser.add_argument(
        "--disturbance_scale",
        type=cli.non_negative_float,
        default=1.0,
        help="scale of the task's joint disturbances in the main evaluation (1: as trained; 0: none)",
    )
    parser.add_argument("--sweep", type=parse_sweep, default=parse_sweep("0,1,2,4,8"), help="disturbance scales")
    parser.add_argument("--sweep_episodes", type=cli.positive_int, default=256, help="episodes per sweep point")
    args = parser.parse_args()
    task_entry(args.task)
    out = args.out
    if args.task not in PRIMARY_METRIC:
        raise ValueError(f"no evaluation defined for task '{args.task}'")
    if SCRIPTED in args.checkpoint and args.task != "Leap-Grasp-v0":
        raise ValueError(f"--checkpoint {SCRIPTED}: only Leap-Grasp-v0 has a scripted demonstrator")
    # every checkpoint is read before any work; the demonstrator acts in the abs_joint action space
    infos = {
        path: {"action_space": "abs_joint"} if path == SCRIPTED else read_policy_infos(path, args.task)
        for path in args.checkpoint
    }

    reports, episodes = {}, {}
    for path in args.checkpoint:
        name = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(path))), os.path.basename(path))
        name = SCRIPTED if path == SCRIPTED else name
        print(f"Evaluating {name}")
        reports[name], episodes[name] = evaluate_checkpoint(args, path, infos[path])

    with cli.staged_folder(out, replace=True) as staging:
        write_report(staging, args.task, reports, episodes)
    print(f"Report written to {out}")


if __name__ == "__main__":
    cli.run_main(main)
