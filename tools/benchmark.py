"""Task throughput against raw physics throughput, measured in one run; optionally PPO training throughput.

    python tools/benchmark.py --task Leap-Grasp-v0 --num_envs 128 --out result.json
    python tools/benchmark.py --task Leap-Grasp-v0 --backend mujoco_warp --device cuda:0 --num_envs 4096 --ppo_iterations 5

The task runs random actions while the engine state before each of its physics steps (commands and
resets included) is recorded; the bare engine then steps from exactly those states (same model, object
variants, substeps and threads), timed around the step call alone. The ratio task/raw is the share of
throughput the task logic keeps. Task and raw alternate over several rounds so that machine load affects
both alike. With --ppo_iterations, the real rsl-rl runner then trains for that many iterations after one
warm-up iteration, timed end to end, rollout and update apart, with its ratio to raw physics. The grasping
task's action space is chosen with --action_space (with --prior_checkpoint for the steering spaces).
"""

from __future__ import annotations

import argparse
import time

import cli

import mujoco
import torch

from agents.ppo_runner import PPORunner
from isaac_tasks import make_agent_cfg, make_env, task_entry

# Everything the MuJoCo Warp engine steps from, besides the model.
_WARP_STATE = (
    "qpos",
    "qvel",
    "ctrl",
    "qfrc_applied",
    "xfrc_applied",
    "mocap_pos",
    "mocap_quat",
    "qacc_warmstart",
    "time",
)


def bare_engine(physics, decimation: int):
    """(save, load, step) of the task's engine: snapshot its full state, restore one, step it alone."""
    if physics.info.name == "mujoco":
        batch = physics.batch

        def load(state) -> None:
            batch.state[:] = state
            batch.forward(stage=mujoco.mjtStage.mjSTAGE_VEL)

        return (lambda: batch.state.copy()), load, (lambda: batch.step(nstep=decimation))
    fields = [getattr(physics, f"_{name}") for name in _WARP_STATE]

    def load(state) -> None:
        for field, saved in zip(fields, state):
            field.copy_(saved)

    return (lambda: [f.clone() for f in fields]), load, (lambda: physics.advance(decimation))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ppo_throughput(env, task: str, iterations: int, seed: int, device: str) -> dict:
    """Env steps/s of PPO training end to end, and the seconds of rollout and of update per iteration."""
    agent_cfg = make_agent_cfg(task)
    agent_cfg["seed"] = seed
    runner = PPORunner(env, agent_cfg, task=task, log_dir=None, device=device)
    runner.learn(num_learning_iterations=1, init_at_random_ep_len=True)  # warm-up
    update, update_time = runner.alg.update, [0.0]

    def timed_update():
        tic = time.perf_counter()
        result = update()
        update_time[0] += time.perf_counter() - tic
        return result

    runner.alg.update = timed_update
    synchronize(env.device)
    tic = time.perf_counter()
    runner.learn(num_learning_iterations=iterations)
    synchronize(env.device)
    total = time.perf_counter() - tic
    return {
        "ppo_iterations": iterations,
        "ppo_env_steps_per_s": iterations * agent_cfg["num_steps_per_env"] * env.num_envs / total,
        "ppo_rollout_s_per_iteration": (total - update_time[0]) / iterations,
        "ppo_update_s_per_iteration": update_time[0] / iterations,
    }


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_task_args(parser, num_envs=128)
    parser.add_argument("--num_steps", type=cli.positive_int, default=40, help="control steps per round")
    parser.add_argument("--rounds", type=cli.positive_int, default=3)
    parser.add_argument(
        "--ppo_iterations", type=cli.non_negative_int, default=0, help="PPO iterations to time (0: none)"
    )
    parser.add_argument("--action_space", help="Leap-Grasp-v0: the action space (default: the task's)")
    parser.add_argument("--prior_checkpoint", type=cli.existing_file, help="flow prior of the steering action spaces")
    cli.add_env_override_args(parser)
    parser.add_argument("--out", type=cli.output_file, help="JSON file for the figures")
    args = parser.parse_args()
    task_entry(args.task)

    overrides = cli.task_overrides(args)
    if args.action_space:
        overrides["action_space"] = args.action_space
    if args.prior_checkpoint:
        overrides["prior_checkpoint"] = args.prior_checkpoint
    overrides.update(cli.env_config_overrides(args))
    env = make_env(args.task, **overrides)
    physics, decimation, device = env.physics, env.cfg.decimation, env.device
    save, load, bare_step = bare_engine(physics, decimation)
    generator = torch.Generator(device=device).manual_seed(args.seed)

    def random_actions() -> torch.Tensor:
        return 2.0 * torch.rand(env.num_envs, env.num_actions, generator=generator, device=device) - 1.0

    for _ in range(5):  # warm up caches, the allocator and (on a GPU) graph capture
        env.step(random_actions())

    # Record the engine state (commands and resets included) before every physics step of the task.
    states: list = []
    task_step = physics.step

    def recording_step(num_substeps: int):
        states.append(save())
        return task_step(num_substeps)

    task_time = raw_time = 0.0
    for _ in range(args.rounds):
        states.clear()
        physics.step = recording_step
        synchronize(device)
        tic = time.perf_counter()
        for _ in range(args.num_steps):
            env.step(random_actions())
        synchronize(device)
        task_time += time.perf_counter() - tic
        physics.step = task_step
        task_state = save()
        for state in states:  # the bare engine on exactly the task's states
            load(state)
            synchronize(device)
            tic = time.perf_counter()
            bare_step()
            synchronize(device)
            raw_time += time.perf_counter() - tic
        load(task_state)  # the task continues where it was
    states.clear()

    steps = args.num_envs * args.num_steps * args.rounds
    result = {
        "task": args.task,
        "backend": physics.info.name,
        "device": str(device),
        "num_envs": args.num_envs,
        "control_steps_per_round": args.num_steps,
        "rounds": args.rounds,
        "decimation": decimation,
        "physics_dt": physics.info.physics_dt,
        "num_threads": physics.info.num_threads,
        "task_env_steps_per_s": steps / task_time,
        "raw_physics_env_steps_per_s": steps / raw_time,
        "raw_physics_substeps_per_s": steps * decimation / raw_time,
        "ratio_task_to_raw": raw_time / task_time,
    }
    if getattr(env.cfg, "action_space", None):
        result["action_space"] = env.cfg.action_space
    if args.ppo_iterations:
        result.update(ppo_throughput(env, args.task, args.ppo_iterations, args.seed, args.device))
        result["ratio_ppo_to_raw"] = result["ppo_env_steps_per_s"] / result["raw_physics_env_steps_per_s"]
    result["backend_info"] = physics.info.extra
    result["machine"] = cli.machine_info()
    cli.report_json(result, args.out)


if __name__ == "__main__":
    cli.run_main(main)
