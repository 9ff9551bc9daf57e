"""Train a conditional flow-matching prior on demonstrations, then evaluate it alone as the policy
(success, and the fraction of episodes whose fingers went more than 0.5 cm through each other).

    python tools/train_prior.py --demos demos/leap_grasp.hdf5 --variant hand_arm --num_steps 20000

Logs (TensorBoard), checkpoints prior_<step>.pt, params.json, the evaluation (eval.json) and the Fig. 7
style plot of two-step predictions for several latents (latents.png) go to
logs/flow_prior/<variant>/<timestamp>/. `--resume` continues the latest run (or a given run folder or
checkpoint) up to --num_steps with a fresh optimizer. The hand prior has no arm: its evaluation moves
the arm with the scripted demonstrator's arm motion.
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
from evaluate import grasp_penetration  # noqa: E402
from isaac_tasks.evaluation.penetration import infeasible  # noqa: E402
from isaac_tasks.evaluation.rollout import run_episodes, summarize  # noqa: E402
from isaac_tasks.leap_grasp.scripted_grasp import ScriptedGrasp, ScriptedGraspCfg  # noqa: E402

TASK = "Leap-Grasp-v0"


def evaluate_prior(model: FlowPrior, variant: str, num_envs: int, episodes: int, seed: int, num_threads: int) -> dict:
    env = make_env(
        TASK, num_envs=num_envs, seed=seed, num_threads=num_threads, action_space="abs_joint", disturbance_scale=0.0
    )
    script = ScriptedGrasp(env, ScriptedGraspCfg(), torch.Generator().manual_seed(seed))
    script.reset(torch.arange(env.num_envs))
    generator = torch.Generator().manual_seed(seed)
    low, high = env.finger_limits.unbind(-1)

    def policy(_obs) -> torch.Tensor:
        cond = prior_data.env_condition(variant, env)
        first = model.sample(cond, generator=generator)[:, 0]  # re-plan every step from a0 ~ N(0, I)
        arm, fingers = prior_data.arm_and_fingers(variant, first, env.cfg.arm_rotation_limit)
        if arm is None:
            arm = script.command()[:, :6]
        return torch.cat((arm, 2.0 * (fingers - low) / (high - low) - 1.0), dim=-1)

    results = run_episodes(env, policy, episodes, grasp_penetration(env), label="prior as policy: ")
    finger_depth = results.pop("penetration_hand_hand")
    del results["penetration_hand_object"]
    return {**summarize(results), "infeasible_fraction": float(infeasible(finger_depth.numpy()).mean())}


def plot_latents(model: FlowPrior, variant: str, cond: torch.Tensor, current: torch.Tensor, path: str) -> None:
    """Fig. 7: from one hand pose, the two-step finger predictions of several latents."""
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(4, prior_data.HORIZON, model.config["action_dim"], generator=generator)
    with torch.no_grad():
        predictions = model.push(cond.expand(len(latents), -1), latents)
    _, fingers = prior_data.arm_and_fingers(variant, predictions, make_env_cfg(TASK).arm_rotation_limit)
    fig, axes = plt.subplots(1, len(latents), figsize=(4 * len(latents), 3.2), sharey=True)
    for k, ax in enumerate(axes):
        ax.plot(current.numpy(), "o-", color="tab:blue", label="current pose")
        for step, shade in ((0, "tab:red"), (1, "salmon")):
            ax.plot(fingers[k, step].numpy(), "s--", color=shade, label=f"prediction t+{step + 1}")
        ax.set_title(f"latent {k + 1}")
        ax.set_xlabel("finger joint (index, middle, ring, thumb)")
    axes[0].set_ylabel("joint target (rad)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demos", required=True, help="HDF5 demonstration file (agents/demonstrations.py)")
    parser.add_argument("--variant", default="hand_arm", help=f"one of: {', '.join(prior_data.VARIANTS)}")
    parser.add_argument("--num_steps", type=cli.positive_int, default=20000, help="gradient steps in total")
    parser.add_argument("--batch_size", type=cli.positive_int, default=512)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--save_interval", type=cli.positive_int, default=2000)
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--resume", nargs="?", const="latest", help="checkpoint, run folder, or none: latest run")
    parser.add_argument("--log_root", default=os.path.join("logs", "flow_prior"))
    parser.add_argument("--eval_episodes", type=cli.non_negative_int, default=256, help="0 skips the evaluation")
    parser.add_argument("--num_envs", type=cli.positive_int, default=128)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0)
    args = parser.parse_args()
    prior_data.check_variant(args.variant)
    variant_dir = os.path.abspath(os.path.join(args.log_root, args.variant))

    rotation_limit = make_env_cfg(TASK).arm_rotation_limit
    episodes = load_demos(args.demos, TASK)
    cond, actions = prior_data.dataset(args.variant, episodes, rotation_limit)
    torch.manual_seed(args.seed)
    start = 0
    if args.resume:
        path = cli.find_checkpoint(args.resume, variant_dir, "prior_")
        model, metadata = FlowPrior.load(path)
        if metadata.get("variant") != args.variant or metadata.get("task") != TASK:
            raise CheckpointError(f"{path} is a '{metadata.get('variant')}' prior of {metadata.get('task')}")
        start, log_dir = int(metadata["step"]), os.path.dirname(os.path.abspath(path))
        print(f"Resuming from {path} at step {start}")
    else:
        model = FlowPrior(horizon=prior_data.HORIZON, **prior_data.VARIANTS[args.variant])
        log_dir = os.path.join(variant_dir, datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    metadata = {"task": TASK, "variant": args.variant, "demos": os.path.abspath(args.demos)}

    os.makedirs(log_dir, exist_ok=True)
    with open(os.path.join(log_dir, "params.json"), "w") as f:
        json.dump({**vars(args), **metadata, "num_pairs": len(cond), "model": model.config}, f, indent=2)
    writer = SummaryWriter(log_dir)
    print(
        f"Training the '{args.variant}' prior on {len(cond)} step pairs from {len(episodes)} episodes; logs in {log_dir}"
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
    pose = torch.cat((obs["object_pos"], obs["object_quat"]), dim=-1)
    one_cond = prior_data.condition(args.variant, obs["joint_pos"], obs["joint_vel"], pose)
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
                model, args.variant, args.num_envs, args.eval_episodes, args.seed, args.num_threads
            )
        with open(os.path.join(log_dir, "eval.json"), "w") as f:
            json.dump(results, f, indent=2)
        for key, value in results.items():
            writer.add_scalar(f"Eval/{key}", value, args.num_steps)
            print(f"{key}: {value:.4f}")
    writer.close()
    print(f"Done: checkpoints, latents.png and eval.json in {log_dir}")


if __name__ == "__main__":
    cli.run_main(main)
