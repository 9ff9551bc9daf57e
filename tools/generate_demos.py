"""Generate scripted grasp demonstrations for Leap-Grasp-v0 in parallel environments.

    python tools/generate_demos.py --num_demos 1441 --num_envs 128 --out demos/leap_grasp.hdf5

Rounds of `--num_envs` episodes (one per environment) are written as shards next to the output
(<out>.shards/, each shard atomically); a run that is interrupted resumes from the shards it finished,
and each round has its own seed, so nothing is lost or duplicated. The shards are merged into the
output file (atomically) at the end. The format is documented in agents/demonstrations.py.

With --video [PATH] (and the other video flags of tools/cli.py) the demonstrator is filmed after the
generation, in a short rollout of its own on --video_envs fresh environments (same task settings, seed
and disturbances; it does not change the demonstrations): by default <out without extension>.mp4.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import shutil

import cli

import torch
from tqdm import tqdm

from agents.demonstrations import Episode, load_demos, privileged_state, write_demos
from isaac_tasks import make_env
from isaac_tasks.leap_grasp.scripted_grasp import ScriptedGrasp, ScriptedGraspCfg

TASK = "Leap-Grasp-v0"


def snapshot(env) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Observation fields and privileged state of every environment, as the demonstration format has them."""
    s = env.physics.state
    obs = {
        "joint_pos": s.joint_pos,
        "joint_vel": s.joint_vel,
        "joint_targets": env.joint_targets.clone(),
        "palm_pos": s.site_pos[:, 0],
        "palm_quat": s.site_quat[:, 0],
        "object_pos": s.body_pos[:, 0],
        "object_quat": s.body_quat[:, 0],
        "fingertip_contact": s.in_contact[:, :4].float(),
        "object_geometry": env.object_geometry,
    }
    return obs, privileged_state(env)


def record_demonstrator(env_kwargs: dict, script_cfg: ScriptedGraspCfg, seed: int, video: dict) -> str:
    """Film the scripted demonstrator on video["num_envs"] fresh environments; returns the path written."""
    from isaac_tasks.evaluation.video import record

    env = make_env(TASK, **{**env_kwargs, "num_envs": video["num_envs"], "seed": seed})
    script = ScriptedGrasp(env, script_cfg, torch.Generator().manual_seed(seed))

    def demonstrator(_obs) -> torch.Tensor:
        fresh = (env.episode_length_buf == 0).nonzero().squeeze(-1)  # episodes starting now: plan a grasp
        if len(fresh):
            script.reset(fresh)
        return script.actions(script.command())

    return record(env, demonstrator, **video)


@torch.inference_mode()
def collect_round(env, script: ScriptedGrasp, size: int) -> list[Episode]:
    """The first episode of environments 0..size-1 after a reset.

    Per step: the observation and state before it, the command, the reward and done flag `env.step` returns,
    and the observation after it. That is the next step's observation, except at an episode's last step,
    where `env.step` has already reset the environment: there it is the terminal observation, taken inside
    `env.step` just before the reset (the task's `_reset_idx` hook is wrapped for the round).
    """
    env.reset()
    script.reset(torch.arange(env.num_envs))
    steps: list[tuple[dict, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
    ended_at = torch.full((env.num_envs,), -1)
    success = torch.zeros(env.num_envs, dtype=torch.bool)
    terminal: dict[int, dict[str, torch.Tensor]] = {}  # environment -> observation ending its first episode
    reset_idx = env._reset_idx

    def snapshot_then_reset(env_ids: torch.Tensor) -> None:
        obs, _ = snapshot(env)
        for i in env_ids.tolist():
            if i < size and i not in terminal:
                terminal[i] = {key: value[i] for key, value in obs.items()}
        reset_idx(env_ids)

    env._reset_idx = snapshot_then_reset
    try:
        while (ended_at[:size] < 0).any():
            obs, state = snapshot(env)
            command = script.command()
            _, reward, dones, extras = env.step(script.actions(command))
            steps.append((obs, state, command, reward, dones))
            ids = dones.nonzero().squeeze(-1)
            if len(ids):
                first = ended_at[ids] < 0
                ended_at[ids[first]] = len(steps)
                success[ids[first]] = extras["log"]["Metrics/success_rate"][first].bool()
                script.reset(ids)
    finally:
        del env._reset_idx  # the task's own method again
    episodes = []
    for i in range(size):
        length = int(ended_at[i])
        obj = env.objects[int(env.object_index[i])]
        obs = {key: torch.stack([o[key][i] for o, *_ in steps[:length]]).cpu() for key in steps[0][0]}
        episodes.append(
            Episode(
                obs={key: value.numpy() for key, value in obs.items()},
                next_obs={key: torch.cat((obs[key][1:], terminal[i][key][None].cpu())).numpy() for key in obs},
                states=torch.stack([st[i] for _, st, *_ in steps[:length]]).cpu().numpy(),
                actions=torch.stack([c[i] for _, _, c, *_ in steps[:length]]).cpu().numpy(),
                rewards=torch.stack([r[i] for *_, r, _ in steps[:length]]).float().cpu().numpy(),
                dones=torch.stack([d[i] for *_, d in steps[:length]]).long().cpu().numpy(),
                success=bool(success[i]),
                grasp_type=obj.grasp_type,
                object=obj.name,
            )
        )
    return episodes


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_demos", type=cli.positive_int, default=1441)
    parser.add_argument("--num_envs", type=cli.positive_int, default=128)
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0)
    parser.add_argument("--grasp_type", choices=("pinch", "power", "all"), default="all")
    parser.add_argument(
        "--disturbance_scale",
        type=cli.non_negative_float,
        default=1.0,
        help="joint disturbances, x the task's nominal (0: none)",
    )
    parser.add_argument("--out", type=cli.output_file, required=True, help="HDF5 file to write")
    cli.add_video_args(parser)
    args = parser.parse_args()
    video = cli.video_options(args, default_path=os.path.splitext(args.out)[0] + ".mp4")

    shard_dir = args.out + ".shards"
    os.makedirs(shard_dir, exist_ok=True)
    num_rounds = -(-args.num_demos // args.num_envs)
    done = sorted(glob.glob(os.path.join(shard_dir, "round_*.hdf5")))
    if done:
        print(f"Resuming: {len(done)} of {num_rounds} rounds already in {shard_dir}")
    env_kwargs = {
        "num_threads": args.num_threads,
        "grasp_type": args.grasp_type,
        "action_space": "abs_joint",
        "disturbance_scale": args.disturbance_scale,
        "terminate_on_success": True,  # a demonstration ends where its grasp succeeds
    }
    env = make_env(TASK, num_envs=args.num_envs, seed=args.seed, **env_kwargs)
    script_cfg = ScriptedGraspCfg()
    generator = torch.Generator()
    script = ScriptedGrasp(env, script_cfg, generator)
    env_args = {"env_cfg": dataclasses.asdict(env.cfg), "script": dataclasses.asdict(script_cfg), "seed": args.seed}
    with tqdm(total=args.num_demos, initial=min(len(done) * args.num_envs, args.num_demos), unit="demo") as progress:
        for k in range(len(done), num_rounds):
            size = min(args.num_envs, args.num_demos - k * args.num_envs)
            env.generator.manual_seed(args.seed * 100_003 + k)  # each round reproducible on its own
            generator.manual_seed(args.seed * 100_003 + k)
            write_demos(
                os.path.join(shard_dir, f"round_{k:04d}.hdf5"), TASK, collect_round(env, script, size), env_args
            )
            progress.update(size)

    episodes = [
        e for path in sorted(glob.glob(os.path.join(shard_dir, "round_*.hdf5"))) for e in load_demos(path, TASK)
    ]
    write_demos(args.out, TASK, episodes[: args.num_demos], env_args)
    shutil.rmtree(shard_dir)
    success = torch.tensor([e.success for e in episodes], dtype=torch.float)
    power = torch.tensor([e.grasp_type == "power" for e in episodes])
    print(f"Wrote {len(episodes)} demonstrations to {args.out}")
    print(
        f"scripted success: {success.mean():.3f} (pinch {success[~power].mean():.3f}, power {success[power].mean():.3f})"
    )
    for name in dict.fromkeys(e.object for e in episodes):
        mine = success[[e.object == name for e in episodes]]
        print(f"  {name:12s} {mine.mean():.3f} ({len(mine)} demonstrations)")
    if video is not None:
        path = record_demonstrator(env_kwargs, script_cfg, args.seed, video)
        print(f"Wrote {path} (the scripted demonstrator)")


if __name__ == "__main__":
    cli.run_main(main)
