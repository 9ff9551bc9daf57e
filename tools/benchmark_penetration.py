"""Penetration-meter throughput on the CPU: hand states of a grasping task evaluated per second.

    python tools/benchmark_penetration.py --task Leap-Grasp-v0 --num_states 2000 --out result.json

States of the task's grasp scene: the arm at the task's home pose, the hand's joints uniform within their
limits, the object resting on the table. Exact CPU path, one thread.
"""

from __future__ import annotations

import argparse
import time

import cli

import numpy as np

from assets.franka import ARM_JOINT_NAMES
from assets.objects import object_set
from isaac_tasks import TASKS, env_class, make_env_cfg
from isaac_tasks.evaluation.penetration import PenetrationMeter
from isaac_tasks.grasp.scene import OBJECT_BODY, grasp_scene


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    grasping = [task for task, entry in TASKS.items() if entry.scripted_policy]
    parser.add_argument("--task", required=True, choices=grasping, help="a grasping task")
    parser.add_argument("--num_states", type=cli.positive_int, default=2000)
    parser.add_argument("--object", default="bottle", help="object name from assets/objects.py")
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--out", type=cli.output_file, help="JSON file for the figures")
    args = parser.parse_args()
    objects = {o.name: o for o in object_set()}
    if args.object not in objects:
        raise ValueError(f"unknown object '{args.object}', one of: {', '.join(objects)}")

    hand, cfg = env_class(args.task).hand, make_env_cfg(args.task)
    scene = grasp_scene(hand, objects[args.object], cfg.sim_dt)
    meter = PenetrationMeter(scene, hand.link_groups, OBJECT_BODY, hand.overlap_exclude, use_kaolin=False)
    m = meter.model
    states = np.repeat(m.qpos0[None], args.num_states, axis=0)
    for name, angle in zip(ARM_JOINT_NAMES, cfg.arm_home_pose):
        states[:, m.jnt_qposadr[m.joint(name).id]] = angle
    fingers = [m.jnt_qposadr[m.joint(name).id] for name in hand.joint_names]
    low, high = hand.joint_limits.T
    states[:, fingers] = np.random.default_rng(args.seed).uniform(low, high, (args.num_states, len(fingers)))

    meter.measure(states[:10])  # warm up
    meter.distance_calls = 0
    tic = time.perf_counter()
    depth = meter.measure(states)
    elapsed = time.perf_counter() - tic
    result = {
        "scene": f"{args.task} ({args.object})",
        "path": "cpu (mj_geomDistance)",
        "num_states": args.num_states,
        "states_per_s": args.num_states / elapsed,
        "candidate_pairs": {"hand_hand": meter.num_hand_pairs, "hand_object": len(meter.pairs) - meter.num_hand_pairs},
        "pairs_checked_per_state": meter.distance_calls / args.num_states,
        "infeasible_fraction": float(np.mean(np.maximum(depth.hand_hand, depth.hand_object) > 0.005)),
        "machine": {**cli.machine_info(), "threads_used": 1},
    }
    cli.report_json(result, args.out)


if __name__ == "__main__":
    cli.run_main(main)
