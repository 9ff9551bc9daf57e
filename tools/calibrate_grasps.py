"""Calibrate the scripted demonstrator's palm-pose ranges per strategy and object shape by simulation.

    python tools/calibrate_grasps.py --task Leap-Grasp-v0 --family pinch --num_envs 480 --rounds 4 --out calib.json

Prints the success of every round and writes the ranges, keyed "<strategy>/<shape>" as
`ScriptedGraspCfg.strategies` takes them (isaac_tasks/grasp/grasp_calibration.py), in the LEAP hand's lengths
(the demonstrator scales them by the hand's `grasp_scale`).
"""

from __future__ import annotations

import argparse

import cli

from isaac_tasks import TASKS, make_env
from isaac_tasks.grasp.grasp_calibration import calibrate


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    grasping = [task for task, entry in TASKS.items() if entry.scripted_policy]
    parser.add_argument("--task", required=True, choices=grasping, help="a task with a scripted demonstrator")
    parser.add_argument("--family", choices=("pinch", "power"), required=True)
    parser.add_argument("--num_envs", type=cli.positive_int, default=480)
    parser.add_argument(
        "--rounds", type=cli.non_negative_int, default=4, help="search rounds; 0 only measures (with --from_defaults)"
    )
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0)
    parser.add_argument(
        "--from_defaults", action="store_true", help="refine the demonstrator's current ranges, not the search box"
    )
    parser.add_argument("--shapes", nargs="+", help="shape classes to search (default: all of the family's)")
    parser.add_argument("--out", type=cli.output_file, required=True, help="JSON file to write")
    args = parser.parse_args()
    env = make_env(
        args.task,
        num_envs=args.num_envs,
        seed=args.seed,
        num_threads=args.num_threads,
        grasp_type=args.family,
        action_space="abs_joint",
        terminate_on_success=True,  # an episode is scored at its success; nothing after it counts
    )
    result = calibrate(
        env, args.family, args.rounds, args.seed, from_defaults=args.from_defaults, shape_classes=args.shapes
    )
    cli.report_json(result, args.out)


if __name__ == "__main__":
    cli.run_main(main)
