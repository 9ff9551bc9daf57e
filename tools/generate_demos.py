"""Generate demonstrations of a task's scripted demonstrator in parallel environments.

    python tools/generate_demos.py --task Leap-Grasp-v0 --num_demos 1441 --num_envs 128 --out demos/leap_grasp.hdf5

Rounds of `--num_envs` episodes (one per environment) are written as shards next to the output
(<out>.shards/, each shard atomically); a run that is interrupted resumes from the shards it finished,
and each round has its own seed, so nothing is lost or duplicated. The shards are merged into the
output file (atomically) at the end (agents/demo_collection.py). The format is documented in
agents/demonstrations.py. `--env KEY=VALUE` sets the task's config (e.g. grasp_type=pinch).

With --video [PATH] (and the other video flags of tools/cli.py) the demonstrator is filmed after the
generation, in a short rollout of its own on --video_envs fresh environments (same task settings, seed
and disturbances; it does not change the demonstrations): by default <out without extension>.mp4.
"""

from __future__ import annotations

import argparse
import os

import cli

import torch

from agents.demo_collection import film_demonstrator, generate_demos


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, help=f"task id, one of: {', '.join(cli.TASKS)}")
    parser.add_argument("--num_demos", type=cli.positive_int, default=1441)
    parser.add_argument("--num_envs", type=cli.positive_int, default=128)
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0)
    parser.add_argument("--disturbance_scale", type=cli.non_negative_float, default=1.0, help="joint disturbances, x the task's nominal (0: none)")  # fmt: skip
    parser.add_argument("--out", type=cli.output_file, required=True, help="HDF5 file to write")
    cli.add_env_override_args(parser)
    cli.add_video_args(parser)
    args = parser.parse_args()
    video = cli.video_options(args, default_path=os.path.splitext(args.out)[0] + ".mp4")
    settings = {"num_threads": args.num_threads, "disturbance_scale": args.disturbance_scale}
    settings.update(cli.env_config_overrides(args))

    episodes = generate_demos(args.task, args.out, args.num_demos, args.num_envs, args.seed, **settings)
    success = torch.tensor([e.success for e in episodes], dtype=torch.float)
    print(f"Wrote {len(episodes)} demonstrations to {args.out}")
    families = {family: success[[e.grasp_type == family for e in episodes]] for family in dict.fromkeys(e.grasp_type for e in episodes)}  # fmt: skip
    print(f"scripted success: {success.mean():.3f} (" + ", ".join(f"{k} {v.mean():.3f}" for k, v in families.items()) + ")")  # fmt: skip
    for name in dict.fromkeys(e.object for e in episodes):
        mine = success[[e.object == name for e in episodes]]
        print(f"  {name:12s} {mine.mean():.3f} ({len(mine)} demonstrations)")
    if video is not None:
        print(f"Wrote {film_demonstrator(args.task, args.seed, video, **settings)} (the scripted demonstrator)")


if __name__ == "__main__":
    cli.run_main(main)
