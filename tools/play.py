"""Evaluate a checkpoint over N episodes and export its policy to TorchScript and ONNX.

    python tools/play.py --task Leap-Grasp-v0 --checkpoint logs/rsl_rl/leap_grasp/<run>/model_499.pt

Exports go to <run>/exported/: policy.pt and policy.onnx for a teacher, student.pt and student.onnx for a
distilled student (its observations and any prefix actions in, the predicted chunk out; see
distill/export.py); a flow prior (prior_<N>.pt) plays alone and exports nothing. For success, penetration and
robustness reports use tools/evaluate.py.

With --video [PATH] the evaluation itself is filmed: environments 0..--video_envs-1 are rendered after
every step of the first episodes (--video_episodes each, or --video_length frames) and written to PATH,
by default <run>/videos/play.mp4; the metrics are those of the same rollout.
"""

from __future__ import annotations

import argparse
import os

import cli

from agents.ppo_runner import env_defaults, env_overrides
from agents.prior_data import PriorPolicy
from distill.export import export_student
from distill.policy import load_any_policy, read_policy_infos
from isaac_tasks import make_agent_cfg, make_env, task_entry
from isaac_tasks.evaluation.rollout import run_episodes, summarize
from isaac_tasks.evaluation.video import VideoRecorder


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_task_args(parser, num_envs=128)
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="model_<N>.pt of train.py, student_<N>.pt of distill.py or prior_<N>.pt of train_prior.py (the prior alone)",
    )
    parser.add_argument("--episodes", type=cli.positive_int, default=1024, help="episodes to evaluate")
    parser.add_argument(
        "--export_dir",
        type=cli.output_folder,
        help="where to write the exported TorchScript and ONNX files (default: <run>/exported)",
    )
    cli.add_video_args(parser)
    cli.add_env_override_args(parser)
    args = parser.parse_args()
    task_entry(args.task)
    info = read_policy_infos(args.checkpoint, args.task)
    run_dir = os.path.dirname(os.path.abspath(args.checkpoint))
    video = cli.video_options(args, default_path=os.path.join(run_dir, "videos", "play.mp4"))
    export_dir = cli.output_path(args.export_dir or os.path.join(run_dir, "exported"), "--export_dir", folder=True)

    overrides = {
        **env_defaults(info),
        **env_overrides(info),
        **cli.task_overrides(args),
        **cli.env_config_overrides(args),
    }
    env = make_env(args.task, **overrides)
    runner, policy = load_any_policy(env, args.task, args.checkpoint, make_agent_cfg(args.task))

    print(f"Evaluating {args.checkpoint} over {args.episodes} episodes ({args.num_envs} environments)")
    if video is None:
        results = summarize(run_episodes(env, policy, args.episodes), env)
    else:
        with VideoRecorder(env, **video) as recorder:
            results = summarize(run_episodes(env, policy, args.episodes, per_step=recorder), env)
            if not recorder.done:
                print(f"The evaluation ended before the video did; it has {recorder.frames} frames")
            path = recorder.save()
        print(f"Wrote {path} ({recorder.frames} frames, {recorder.render_seconds:.1f} s rendering and encoding)")
    for key, value in results.items():
        print(f"{key}: {value:.4f}")

    if isinstance(policy, PriorPolicy):
        print("A flow prior alone has no policy network to export (tools/train_prior.py wrote the prior itself)")
        return
    with cli.staged_folder(export_dir) as staging:
        if runner is None:  # a student: its network, without the simulator's point clouds around it
            sensor = getattr(policy.io, "sensor", None)
            export_student(policy.student, staging, sensor.cfg.num_points if sensor else 0)
            names = "student.pt and student.onnx"
        else:
            runner.export_policy_to_jit(staging, "policy.pt")
            runner.export_policy_to_onnx(staging, "policy.onnx")
            names = "policy.pt and policy.onnx"
    print(f"Exported {names} (TorchScript and ONNX) to {export_dir}")


if __name__ == "__main__":
    cli.run_main(main)
