"""Ship a trained policy: copy its checkpoint, with the prior (or other files) its action space reads, into one
folder whose checkpoint names them relative to itself, so that the folder replays from any checkout.

    python tools/ship_checkpoint.py --task Leap-Grasp-v0 --checkpoint logs/rsl_rl/leap_grasp/<run>/model_N.pt \\
        --out checkpoints/leap_grasp_rfs_hand_arm.pt

A student of tools/distill.py is shipped without its optimizer state, naming its teacher relative to itself when
the teacher is shipped beside it (ship the teacher first).
"""

from __future__ import annotations

import argparse

import cli

from agents.ppo_runner import ship_checkpoint
from distill.student import is_student_checkpoint, read_student_checkpoint, ship_student
from isaac_tasks import task_entry


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, help="task id the checkpoint was trained on")
    parser.add_argument(
        "--checkpoint", type=cli.existing_file, required=True, help="model_<N>.pt of tools/train.py, or a student"
    )
    parser.add_argument("--out", type=cli.output_file, required=True, help="the shipped checkpoint file")
    args = parser.parse_args()
    task_entry(args.task)
    if is_student_checkpoint(args.checkpoint):
        read_student_checkpoint(args.checkpoint, args.task)
        print(f"Wrote {ship_student(args.checkpoint, args.out)}")
        return
    for path in ship_checkpoint(args.checkpoint, args.out, args.task):
        print(f"Wrote {path}")


if __name__ == "__main__":
    cli.run_main(main)
