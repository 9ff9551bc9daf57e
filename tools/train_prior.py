"""Train a conditional flow-matching prior on demonstrations, then evaluate it alone as the policy
(success, and the fraction of episodes whose fingers went more than 0.5 cm through each other).

    python tools/train_prior.py --demos demos/leap_grasp.hdf5 --variant hand_arm --num_steps 20000

Logs (TensorBoard), checkpoints prior_<step>.pt, params.json, the evaluation (eval.json) and the Fig. 7
style plot of the predicted steps for several latents (latents.png) go to
logs/flow_prior/<variant>/<timestamp>/. `--resume` continues the latest run (or a given run folder or
checkpoint) up to --num_steps with a fresh optimizer.

The prior predicts --horizon consecutive actions (2 as the paper). Evaluated alone it executes them as a
chunk: each environment samples a0 ~ N(0, I) once per chunk and executes the predicted actions one after
the other, re-planning every --horizon steps. The hand prior has no arm: its evaluation moves the arm with
the scripted demonstrator's arm motion. With --video [PATH] (and the other video flags of tools/cli.py)
the first environments of that evaluation are filmed, by default to <run folder>/prior.mp4.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime

import cli

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from agents import prior_data  # noqa: E402
from agents.demonstrations import load_demos  # noqa: E402
from agents.flow_matching import FlowPrior, train_flow_prior  # noqa: E402
from agents.ppo_runner import CheckpointError  # noqa: E402
from isaac_tasks import make_env, make_env_cfg  # noqa: E402
from isaac_tasks.evaluation.penetration import infeasible  # noqa: E402
from isaac_tasks.evaluation.rollout import run_episodes, summarize  # noqa: E402
from isaac_tasks.evaluation.video import VideoRecorder  # noqa: E402
from isaac_tasks.leap_grasp.scripted_grasp import ScriptedGrasp, ScriptedGraspCfg  # noqa: E402

TASK = "Leap-Grasp-v0"


def evaluate_prior(
    model: FlowPrior,
    variant: str,
    num_envs: int,
    episodes: int,
    seed: int,
    num_threads: int,
    video: dict | None = None,
) -> dict:
    """Success and infeasible fraction of the prior alone, executing its chunks (prior_data.PriorPolicy), with
    the task's disturbances; with `video` (cli.video_options) the first environments are filmed."""
    env = make_env(TASK, num_envs=num_envs, seed=seed, num_threads=num_threads, action_space="abs_joint")
    script = ScriptedGrasp(env, ScriptedGraspCfg(), torch.Generator().manual_seed(seed))  # plans every new episode

    def scripted_arm() -> torch.Tensor:
        return script.command()[:, :6]

    policy = prior_data.PriorPolicy(model, variant, env, scripted_arm, torch.Generator().manual_seed(seed))
    penetration = env.state_measures()
    recorder = VideoRecorder(env, **video) if video is not None else None

    def per_step(env) -> dict:
        if recorder is not None:
            recorder(env)
        return penetration(env)

    try:
        results = run_episodes(env, policy, episodes, per_step, label="prior as policy: ")
        if recorder is not None:
            if not recorder.done:
                print(f"The evaluation ended before the video did; it has {recorder.frames} frames")
            path = recorder.save()
            print(f"Wrote {path} ({recorder.frames} frames of the prior acting alone)")
    finally:
        if recorder is not None:
            recorder.close()
    finger_depth = results.pop("penetration_hand_hand")
    del results["penetration_hand_object"]
    return {
        **summarize(results, env),
        "infeasible_fraction": float(infeasible(finger_depth.numpy()).mean()),
        "horizon": float(policy.horizon),
    }


def plot_latents(model: FlowPrior, variant: str, cond: torch.Tensor, current: torch.Tensor, path: str) -> None:
    """Fig. 7: from one hand pose, the finger predictions (all `horizon` steps) of several latents."""
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(4, model.horizon, model.config["action_dim"], generator=generator)
    with torch.no_grad():
        predictions = model.push(cond.expand(len(latents), -1), latents)
    _, fingers = prior_data.arm_and_fingers(variant, predictions, make_env_cfg(TASK).arm_rotation_limit)
    fig, axes = plt.subplots(1, len(latents), figsize=(4 * len(latents), 3.2), sharey=True)
    for k, ax in enumerate(axes):
        ax.plot(current.numpy(), "o-", color="tab:blue", label="current pose")
        for step in range(model.horizon):
            shade = plt.cm.Reds(1.0 - 0.6 * step / max(model.horizon - 1, 1))
            ax.plot(fingers[k, step].numpy(), "s--", color=shade, label=f"prediction t+{step + 1}")
        ax.set_title(f"latent {k + 1}")
        ax.set_xlabel("finger joint (index, middle, ring, thumb)")
    axes[0].set_ylabel("joint target (rad)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--demos", type=cli.existing_file, required=True, help="HDF5 demonstration file (agents/demonstrations.py)"
    )
    parser.add_argument(
        "--include_failed", action="store_true", help="train on failed demonstrations too (default: successes only)"
    )
    parser.add_argument("--variant", default="hand_arm", help=f"one of: {', '.join(prior_data.VARIANTS)}")
    parser.add_argument(
        "--horizon",
        type=cli.positive_int,
        help=f"actions predicted per sample and executed as a chunk (default {prior_data.HORIZON} as the paper; "
        "with --resume the checkpoint's)",
    )
    parser.add_argument("--num_steps", type=cli.positive_int, default=20000, help="gradient steps in total")
    parser.add_argument("--batch_size", type=cli.positive_int, default=512)
    parser.add_argument("--lr", type=cli.positive_float, default=3e-4)
    parser.add_argument("--save_interval", type=cli.positive_int, default=2000)
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--resume", nargs="?", const="latest", help="checkpoint, run folder, or none: latest run")
    parser.add_argument("--log_root", default=os.path.join("logs", "flow_prior"))
    parser.add_argument("--eval_episodes", type=cli.non_negative_int, default=256, help="0 skips the evaluation")
    parser.add_argument("--num_envs", type=cli.positive_int, default=128)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0)
    cli.add_video_args(parser)
    args = parser.parse_args()
    prior_data.check_variant(args.variant)
    if args.video is not None and not args.eval_episodes:
        raise ValueError("--video films the evaluation: it needs --eval_episodes > 0")
    variant_dir = cli.output_path(os.path.join(args.log_root, args.variant), "--log_root", folder=True)

    torch.manual_seed(args.seed)  # the new model's initialization
    start = 0
    if args.resume:
        path = cli.find_checkpoint(args.resume, variant_dir, "prior_")
        model, metadata = FlowPrior.load(path)
        prior_data.check_prior(path, model.config, metadata, args.variant, f"--variant {args.variant}")
        if args.horizon is not None and args.horizon != model.horizon:
            raise CheckpointError(f"{path} predicts {model.horizon} steps, not --horizon {args.horizon}")
        start, log_dir = int(metadata["step"]), os.path.dirname(os.path.abspath(path))
        cli.remove_stale_temporaries(log_dir)
    else:
        model = FlowPrior(horizon=args.horizon or prior_data.HORIZON, **prior_data.VARIANTS[args.variant])
        log_dir = os.path.join(variant_dir, datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    video = cli.video_options(args, default_path=os.path.join(log_dir, "prior.mp4"))

    rotation_limit = make_env_cfg(TASK).arm_rotation_limit
    episodes = load_demos(args.demos, TASK)
    if not args.include_failed:
        episodes = [e for e in episodes if e.success]
        if not episodes:
            raise ValueError(f"{args.demos}: no successful demonstration (--include_failed trains on all)")
    cond, actions = prior_data.dataset(args.variant, episodes, rotation_limit, model.horizon)
    if args.resume:
        print(f"Resuming from {path} at step {start}")
    metadata = {"task": TASK, "variant": args.variant, "demos": os.path.abspath(args.demos)}

    with cli.new_run_folder(log_dir, "prior_*.pt"), SummaryWriter(log_dir) as writer:
        with open(os.path.join(log_dir, "params.json"), "w") as f:
            json.dump({**vars(args), **metadata, "num_windows": len(cond), "model": model.config}, f, indent=2)
        print(
            f"Training the '{args.variant}' prior on {len(cond)} windows of {model.horizon} steps from {len(episodes)} episodes; logs in {log_dir}"
        )

        def log(step: int, loss: float) -> None:
            step += start + 1
            if step % 50 == 0:
                writer.add_scalar("Loss/flow_matching", loss, step)
            if step % 1000 == 0:
                print(f"step {step}/{args.num_steps}  loss {loss:.4f}", flush=True)
            if step % args.save_interval == 0 or step == args.num_steps:
                model.save(os.path.join(log_dir, f"prior_{step}.pt"), {**metadata, "step": step})

        if args.num_steps > start:
            train_flow_prior(
                model,
                cond,
                actions,
                num_steps=args.num_steps - start,
                batch_size=args.batch_size,
                lr=args.lr,
                fit_normalization=start == 0,
                generator=torch.Generator().manual_seed(args.seed + start),
                log_fn=log,
            )
        model.eval()
        sample = episodes[0]
        step = len(sample) // 3
        obs = {key: torch.from_numpy(value[step : step + 1]) for key, value in sample.obs.items()}
        one_cond = prior_data.obs_condition(args.variant, obs)
        plot_latents(
            model,
            args.variant,
            one_cond,
            obs["joint_pos"][0, -prior_data.NUM_FINGERS :],
            os.path.join(log_dir, "latents.png"),
        )

        if args.eval_episodes:
            with torch.no_grad():
                results = evaluate_prior(
                    model, args.variant, args.num_envs, args.eval_episodes, args.seed, args.num_threads, video
                )
            with open(os.path.join(log_dir, "eval.json"), "w") as f:
                json.dump(results, f, indent=2)
            for key, value in results.items():
                writer.add_scalar(f"Eval/{key}", value, args.num_steps)
                print(f"{key}: {value:.4f}")
    print(f"Done: checkpoints, latents.png and eval.json in {log_dir}")


if __name__ == "__main__":
    cli.run_main(main)
