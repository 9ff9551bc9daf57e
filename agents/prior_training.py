"""A flow prior trained on a task's demonstrations, then evaluated alone as the policy (success, and the share
of episodes whose fingers went more than 0.5 cm through each other), for any task with demonstrations and
flow priors (agents/demonstrations.py DemoFormat, agents/prior_data.py PriorIO).

A run folder holds TensorBoard logs, checkpoints prior_<step>.pt, params.json, the evaluation (eval.json),
the Fig. 7 style plot of the predicted steps for several latents (latents.png) and, if asked, a video of
the evaluation. Evaluated alone the prior executes its chunks (`PriorPolicy`); a variant without arm
(the hand prior) moves the arm as the task's scripted demonstrator does.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from agents import prior_data  # noqa: E402
from agents.demonstrations import load_demos  # noqa: E402
from agents.flow_matching import FlowPrior, train_flow_prior  # noqa: E402
from isaac_tasks import env_class, load_entry_point, make_env, make_prior_io, task_entry  # noqa: E402
from isaac_tasks.evaluation.penetration import infeasible  # noqa: E402
from isaac_tasks.evaluation.rollout import run_episodes, summarize  # noqa: E402
from isaac_tasks.evaluation.video import VideoRecorder  # noqa: E402


@dataclass(kw_only=True)
class PriorTrainingCfg:
    variant: str = "hand_arm"
    include_failed: bool = False  # train on failed demonstrations too
    num_steps: int = 20000  # gradient steps in total
    batch_size: int = 512
    lr: float = 3e-4
    save_interval: int = 2000
    seed: int = 0
    eval_episodes: int = 256  # 0 skips the evaluation
    num_envs: int = 128
    num_threads: int = 0


def prior_as_policy(model: FlowPrior, variant: str, env, task: str) -> prior_data.PriorPolicy:
    """The prior alone as the policy of an `abs_joint` environment of `task`; a variant without arm (the hand
    prior) moves the arm as the task's scripted demonstrator does."""
    arm = None
    if not env.prior_io.drives_arm(variant):
        scripted_path = task_entry(task).scripted_policy
        if not scripted_path:
            raise ValueError(f"the '{variant}' prior has no arm and task '{task}' no scripted demonstrator to move it")
        scripted = load_entry_point(scripted_path)(env)  # plans every new episode

        def arm() -> torch.Tensor:
            return scripted()[:, : env.num_arm_actions]

    return prior_data.PriorPolicy(model, variant, env, arm, torch.Generator().manual_seed(env.cfg.seed))


def evaluate_prior(model: FlowPrior, task: str, cfg: PriorTrainingCfg, video: dict | None = None) -> dict:
    """Success and infeasible fraction of the prior alone, executing its chunks, with the task's disturbances;
    with `video` (tools/cli.py video_options) the first environments are filmed."""
    env = make_env(task, num_envs=cfg.num_envs, seed=cfg.seed, num_threads=cfg.num_threads, action_space="abs_joint")
    policy = prior_as_policy(model, cfg.variant, env, task)
    penetration = env.state_measures()
    recorder = VideoRecorder(env, **video) if video is not None else None

    def per_step(env) -> dict:
        if recorder is not None:
            recorder(env)
        return penetration(env)

    try:
        results = run_episodes(env, policy, cfg.eval_episodes, per_step, label="prior as policy: ")
        if recorder is not None:
            if not recorder.done:
                print(f"The evaluation ended before the video did; it has {recorder.frames} frames")
            print(f"Wrote {recorder.save()} ({recorder.frames} frames of the prior acting alone)")
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


def plot_latents(model: FlowPrior, io, variant: str, cond: torch.Tensor, current: torch.Tensor, path: str) -> None:
    """Fig. 7: from one hand pose, the finger predictions (all `horizon` steps) of several latents."""
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(4, model.horizon, model.config["action_dim"], generator=generator)
    with torch.no_grad():
        predictions = model.push(cond.expand(len(latents), -1), latents)
    _, fingers = io.arm_and_fingers(variant, predictions)
    fig, axes = plt.subplots(1, len(latents), figsize=(4 * len(latents), 3.2), sharey=True)
    for k, ax in enumerate(axes):
        ax.plot(current.numpy(), "o-", color="tab:blue", label="current pose")
        for step in range(model.horizon):
            shade = plt.cm.Reds(1.0 - 0.6 * step / max(model.horizon - 1, 1))
            ax.plot(fingers[k, step].numpy(), "s--", color=shade, label=f"prediction t+{step + 1}")
        ax.set_title(f"latent {k + 1}")
        ax.set_xlabel("finger joint")
    axes[0].set_ylabel("joint target (rad)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def train_prior(
    cfg: PriorTrainingCfg,
    task: str,
    demos: str,
    model: FlowPrior,
    log_dir: str,
    start: int = 0,
    video: dict | None = None,
    params: dict | None = None,
) -> dict:
    """Train `model` (a new prior, or one saved at step `start`) on the demonstrations `demos` of `task` up to
    cfg.num_steps, into `log_dir`; then evaluate it alone. Returns the evaluation ({} without one)."""
    io = make_prior_io(task)
    prior_data.check_variant(io, cfg.variant)
    episodes = load_demos(demos, task)
    if not cfg.include_failed:
        episodes = [e for e in episodes if e.success]
        if not episodes:
            raise ValueError(f"{demos}: no successful demonstration (include failed ones to train on all)")
    cond, actions = prior_data.dataset(io, cfg.variant, episodes, model.horizon)
    metadata = {"task": task, "variant": cfg.variant, "demos": os.path.abspath(demos)}
    with SummaryWriter(log_dir) as writer:
        with open(os.path.join(log_dir, "params.json"), "w") as f:
            saved = {**(params or {}), **asdict(cfg), **metadata, "num_windows": len(cond), "model": model.config}
            json.dump(saved, f, indent=2)
        print(
            f"Training the '{cfg.variant}' prior on {len(cond)} windows of {model.horizon} steps from "
            f"{len(episodes)} episodes; logs in {log_dir}"
        )

        def log(step: int, loss: float) -> None:
            step += start + 1
            if step % 50 == 0:
                writer.add_scalar("Loss/flow_matching", loss, step)
            if step % 1000 == 0:
                print(f"step {step}/{cfg.num_steps}  loss {loss:.4f}", flush=True)
            if step % cfg.save_interval == 0 or step == cfg.num_steps:
                model.save(os.path.join(log_dir, f"prior_{step}.pt"), {**metadata, "step": step})

        if cfg.num_steps > start:
            train_flow_prior(
                model,
                cond,
                actions,
                num_steps=cfg.num_steps - start,
                batch_size=cfg.batch_size,
                lr=cfg.lr,
                fit_normalization=start == 0,
                generator=torch.Generator().manual_seed(cfg.seed + start),
                log_fn=log,
            )
        model.eval()
        sample = episodes[0]
        step = len(sample) // 3
        obs = {key: torch.from_numpy(value[step : step + 1]) for key, value in sample.obs.items()}
        current = obs["joint_pos"][0, -env_class(task).num_finger_joints :]  # joint positions end with the fingers
        plot_latents(model, io, cfg.variant, io.obs_condition(cfg.variant, obs), current, os.path.join(log_dir, "latents.png"))  # fmt: skip

        results = {}
        if cfg.eval_episodes:
            with torch.no_grad():
                results = evaluate_prior(model, task, cfg, video)
            with open(os.path.join(log_dir, "eval.json"), "w") as f:
                json.dump(results, f, indent=2)
            for key, value in results.items():
                writer.add_scalar(f"Eval/{key}", value, cfg.num_steps)
                print(f"{key}: {value:.4f}")
    return results
