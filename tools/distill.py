"""DAgger: distil a privileged-state teacher into the point-cloud flow student (SPEC 6; 003, B.5).

    python tools/distill.py --teacher checkpoints/leap_grasp_rfs_hand_arm.pt --num_envs 1024
    python tools/distill.py --teacher checkpoints/leap_grasp_rfs_hand_arm_{pinch,power}.pt   # a teacher per family

Each iteration rolls out --steps_per_iteration control steps in every environment, labels every step with
the teacher's command and executes the teacher's with probability p_teacher (--p_teacher, times
--p_teacher_decay per iteration), else the student's on noisy observations; fixed slices of teacher-only and
student-only environments measure both (distill/dagger.py). Checkpoints are <log_dir>/student_<iteration>.pt;
--resume continues a run (its rollout buffer starts empty again). TensorBoard logs go to <log_dir>.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from datetime import datetime

import cli

from agents.ppo_runner import remove_stale_temporaries
from distill.dagger import DaggerCfg, run
from distill.student import ObservationNoiseCfg

RUNS_DIR = os.path.join("logs", "distill")


def main() -> None:
    defaults = DaggerCfg()
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--teacher",
        type=cli.existing_file,
        nargs="+",
        help="a policy checkpoint, or one per value of the task's comparison split (default with --resume: the run's)",
    )
    parser.add_argument("--num_envs", type=cli.positive_int, default=defaults.num_envs)
    parser.add_argument("--steps_per_iteration", type=cli.positive_int, default=defaults.steps_per_iteration)
    parser.add_argument("--iterations", type=cli.non_negative_int, default=defaults.iterations, help="DAgger iterations to run")  # fmt: skip
    parser.add_argument("--p_teacher", type=cli.fraction, default=defaults.p_teacher, help="p_teacher of the first iteration")  # fmt: skip
    parser.add_argument("--p_teacher_decay", type=cli.positive_float, default=defaults.p_teacher_decay, help="factor on p_teacher per iteration")  # fmt: skip
    parser.add_argument("--eval_fraction", type=cli.fraction, default=defaults.eval_fraction, help="share of teacher-only and of student-only envs")  # fmt: skip
    parser.add_argument("--buffer_iterations", type=cli.positive_int, default=defaults.buffer_iterations, help="iterations of data kept")  # fmt: skip
    parser.add_argument("--updates_per_iteration", type=cli.non_negative_int, default=defaults.updates_per_iteration)
    parser.add_argument("--batch_size", type=cli.positive_int, default=defaults.batch_size)
    parser.add_argument("--lr", type=cli.positive_float, default=defaults.lr)
    parser.add_argument("--hidden_dims", type=cli.positive_int, nargs="+", default=defaults.hidden_dims)
    parser.add_argument("--horizon", type=cli.positive_int, default=defaults.horizon, help="actions per predicted chunk")  # fmt: skip
    parser.add_argument("--prefix", type=cli.non_negative_int, default=defaults.prefix, help="committed actions each chunk follows (SOFT-FLOW's real-time chunking)")  # fmt: skip
    parser.add_argument("--execute", type=cli.positive_int, default=defaults.execute, help="actions executed per decision (at most --horizon)")  # fmt: skip
    parser.add_argument("--ema_alpha", type=cli.fraction, default=defaults.ema_alpha, help="EMA coefficient of the executed actions (1: none)")  # fmt: skip
    parser.add_argument("--dataset", help="a collect_distill.py dataset folder, behaviour-cloned first and kept")
    parser.add_argument("--skip_damaged", action="store_true", help="report and skip damaged dataset shards")
    parser.add_argument("--state_loss_weight", type=cli.non_negative_float, default=defaults.state_loss_weight, help="weight of the point-cloud student's privileged-state prediction (0: none)")  # fmt: skip
    parser.add_argument("--bc_updates", type=cli.non_negative_int, default=defaults.bc_updates, help="updates on --dataset first")  # fmt: skip
    parser.add_argument("--seed", type=cli.non_negative_int, default=defaults.seed)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=defaults.num_threads)
    parser.add_argument("--log_dir", type=cli.output_folder, help=f"run folder (default: {RUNS_DIR}/<date>)")
    parser.add_argument("--resume", help="a student checkpoint, a run folder, or 'latest'")
    parser.add_argument("--save_interval", type=cli.positive_int, default=defaults.save_interval)
    cli.add_point_cloud_args(parser)
    for field in dataclasses.fields(ObservationNoiseCfg):
        parser.add_argument(f"--{field.name}", type=cli.non_negative_float, help="student observation noise (default: its task's student's, distill/student_io.py)")  # fmt: skip
    args = parser.parse_args()
    cfg = DaggerCfg(**{f.name: getattr(args, f.name) for f in dataclasses.fields(DaggerCfg)})

    resume = None
    if args.resume:
        resume = cli.find_checkpoint(args.resume, RUNS_DIR, "student_")
        log_dir = args.log_dir or os.path.dirname(os.path.abspath(resume))
        remove_stale_temporaries(os.path.dirname(os.path.abspath(resume)))
    else:
        log_dir = args.log_dir or os.path.join(RUNS_DIR, datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    noise = {f.name: getattr(args, f.name) for f in dataclasses.fields(ObservationNoiseCfg)}
    noise = {name: value for name, value in noise.items() if value is not None}
    teachers = [cli.input_file(path, "--teacher") for path in args.teacher or ()]
    log_dir = cli.output_path(log_dir, "--log_dir", folder=True)
    with cli.new_run_folder(log_dir, "student_*.pt"):
        run(cfg, log_dir, teachers, None if resume else cli.point_cloud_cfg(args), noise, resume, args.dataset)
    print(f"Student checkpoints in {log_dir}")


if __name__ == "__main__":
    cli.run_main(main)
