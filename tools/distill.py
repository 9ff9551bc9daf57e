"""DAgger: distil a privileged-state teacher into the point-cloud flow student (SPEC 6; 003, B.5).

    python tools/distill.py --teacher logs/rsl_rl/leap_grasp/<run>/model_1499.pt --num_envs 1024

Each iteration rolls out `--steps_per_iteration` control steps in every environment. At every step the
teacher's command is the label; the executed command is the teacher's with probability p_teacher, drawn
per environment and step, else the student's (acting on noisy observations: Gaussian noise plus a
random offset drawn per episode). p_teacher starts at `--p_teacher` and is multiplied by
`--p_teacher_decay` each iteration. A slice of environments always executes the teacher and another
always the student: their episodes give the teacher's and the student's success per iteration. The
labelled steps of the last `--buffer_iterations` iterations (and a collected dataset, with --dataset)
are the student's behaviour-cloning data. Checkpoints are <log_dir>/student_<iteration>.pt;
--resume continues a run (its rollout buffer starts empty again). TensorBoard logs go to <log_dir>.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections import deque
from datetime import datetime

import cli

import torch
from torch.utils.tensorboard import SummaryWriter

from distill.dataset import load_dataset, training_pairs
from distill.point_cloud import PointCloudCfg, PointCloudSensor
from distill.student import ObservationNoiseCfg, Student, load_student, proprioception, train_student
from distill.teacher import TASK, execute, load_teacher, p_teacher_at, teacher_command

RUNS_DIR = os.path.join("logs", "distill")


@torch.inference_mode()
def rollout(env, obs, teacher, student, sensor, noise, offsets, p_teacher, groups, steps, generator) -> tuple:
    """`steps` control steps from `obs`; returns the next obs, the labelled pairs, successes by group, the
    share of time spent on point clouds."""
    n = env.num_envs
    points, proprio, labels, dones = [], [], [], []
    successes = {name: [] for name in groups}
    cloud_time, start = 0.0, time.perf_counter()
    for _ in range(steps):
        tic = time.perf_counter()
        cloud = sensor()
        cloud_time += time.perf_counter() - tic
        own = proprioception(env).cpu()
        teacher_actions = teacher(obs)
        label = teacher_command(env, teacher_actions).cpu()
        by_teacher = torch.rand(n, generator=generator) < p_teacher
        by_teacher[groups["teacher"]], by_teacher[groups["student"]] = True, False
        command = label
        if not by_teacher.all():
            noisy = student.perturb(cloud, own, noise, *offsets, generator=generator)
            command = torch.where(by_teacher.unsqueeze(-1), label, student.act(*noisy)[:, 0])
        execute(env, command.to(env.device))
        obs, _, done, extras = env.step(teacher_actions)
        done = done.cpu()
        for store, value in ((points, cloud), (proprio, own), (labels, label), (dones, done)):
            store.append(value)
        ended = done.nonzero().squeeze(-1)
        if len(ended):
            sensor.reset(ended)
            offsets[0][ended] = torch.randn(len(ended), 3, generator=generator)
            offsets[1][ended] = torch.randn(len(ended), offsets[1].shape[1], generator=generator)
            success = extras["log"]["Metrics/success_rate"].cpu()
            for name, members in groups.items():
                successes[name].append(success[torch.isin(ended, members)])
    # Pairs (t, t + 1) within one episode: the student predicts two consecutive actions.
    points, proprio, labels, dones = map(torch.stack, (points, proprio, labels, dones))
    keep = ~dones[:-1]
    data = {
        "points": points[:-1][keep],
        "proprio": proprio[:-1][keep],
        "actions": torch.stack((labels[:-1], labels[1:]), dim=2)[keep],
    }
    successes = {name: torch.cat(values) if values else torch.zeros(0) for name, values in successes.items()}
    return obs, data, successes, cloud_time / (time.perf_counter() - start)


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--teacher", type=cli.existing_file, help="a Leap-Grasp-v0 policy checkpoint (default with --resume: the run's)"
    )
    parser.add_argument("--num_envs", type=cli.positive_int, default=1024)
    parser.add_argument("--steps_per_iteration", type=cli.positive_int, default=128)
    parser.add_argument("--iterations", type=cli.non_negative_int, default=200, help="DAgger iterations to run")
    parser.add_argument("--p_teacher", type=cli.fraction, default=1.0, help="p_teacher of the first iteration")
    parser.add_argument(
        "--p_teacher_decay", type=cli.positive_float, default=0.999, help="factor on p_teacher per iteration"
    )
    parser.add_argument(
        "--eval_fraction", type=cli.fraction, default=0.125, help="share of teacher-only and of student-only envs"
    )
    parser.add_argument("--buffer_iterations", type=cli.positive_int, default=4, help="iterations of data kept")
    parser.add_argument("--updates_per_iteration", type=cli.non_negative_int, default=200)
    parser.add_argument("--batch_size", type=cli.positive_int, default=256)
    parser.add_argument("--lr", type=cli.positive_float, default=3e-4)
    parser.add_argument("--hidden_dims", type=cli.positive_int, nargs="+", default=[512, 512, 512])
    parser.add_argument("--dataset", help="a collect_distill.py dataset folder, behaviour-cloned first and kept")
    parser.add_argument("--skip_damaged", action="store_true", help="report and skip damaged dataset shards")
    parser.add_argument("--bc_updates", type=cli.non_negative_int, default=2000, help="updates on --dataset first")
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0)
    parser.add_argument("--log_dir", type=cli.output_folder, help=f"run folder (default: {RUNS_DIR}/<date>)")
    parser.add_argument("--resume", help="a student checkpoint, a run folder, or 'latest'")
    parser.add_argument("--save_interval", type=cli.positive_int, default=10)
    cli.add_point_cloud_args(parser)
    for field in dataclasses.fields(ObservationNoiseCfg):
        parser.add_argument(
            f"--{field.name}", type=cli.non_negative_float, default=field.default, help="student observation noise"
        )
    args = parser.parse_args()
    if args.p_teacher_decay > 1.0:
        raise ValueError(f"--p_teacher_decay must be in (0, 1], got {args.p_teacher_decay}")
    if args.eval_fraction > 0.5:
        raise ValueError("--eval_fraction must be in [0, 0.5]")

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    saved, start = None, 0
    if args.resume:
        path = cli.find_checkpoint(args.resume, RUNS_DIR, "student_")
        student, saved = load_student(path, TASK)
        start = saved["iter"] + 1
        args.teacher = args.teacher or saved["infos"]["teacher"]
        pc_cfg = PointCloudCfg.from_dict(saved["infos"]["point_cloud"])
        noise = ObservationNoiseCfg(**saved["infos"]["noise"])
        log_dir = args.log_dir or os.path.dirname(os.path.abspath(path))
        cli.remove_stale_temporaries(os.path.dirname(os.path.abspath(path)))
        print(f"Resuming {path} at iteration {start}")
    else:
        pc_cfg = cli.point_cloud_cfg(args)
        noise = ObservationNoiseCfg(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ObservationNoiseCfg)})
        student = Student(hidden_dims=args.hidden_dims)
        log_dir = args.log_dir or os.path.join(RUNS_DIR, datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    if not args.teacher:
        raise ValueError("--teacher is required")
    args.teacher = cli.input_file(args.teacher, "--teacher")
    log_dir = cli.output_path(log_dir, "--log_dir", folder=True)
    dataset = None
    if args.dataset:  # all of it is read and checked before any rollout
        dataset = {
            k: torch.from_numpy(v)
            for k, v in training_pairs(load_dataset(args.dataset, TASK, args.skip_damaged)).items()
        }
        if dataset["points"].shape[1] != pc_cfg.num_points:
            raise ValueError(
                f"{args.dataset} has {dataset['points'].shape[1]} points per cloud, the student {pc_cfg.num_points}"
            )

    env, teacher, _ = load_teacher(args.teacher, num_envs=args.num_envs, seed=args.seed, num_threads=args.num_threads)
    sensor = PointCloudSensor(env.physics, pc_cfg, generator)
    optimizer = torch.optim.AdamW(student.parameters(), lr=args.lr, weight_decay=1e-4)
    if saved is not None:
        optimizer.load_state_dict(saved["optimizer"])
    infos = {
        "task": TASK,
        "action_space": "abs_joint",  # how tools/play.py and tools/evaluate.py execute the student
        "teacher": os.path.abspath(args.teacher),
        "point_cloud": dataclasses.asdict(pc_cfg),
        "noise": dataclasses.asdict(noise),
    }

    def save(iteration: int, p_teacher: float) -> None:
        path = os.path.join(log_dir, f"student_{max(iteration, 0)}.pt")  # -1: behaviour cloning only
        student.save(
            path, {"infos": infos, "iter": iteration, "p_teacher": p_teacher, "optimizer": optimizer.state_dict()}
        )

    with cli.new_run_folder(log_dir, "student_*.pt"), SummaryWriter(log_dir) as writer:
        if dataset is not None and saved is None:
            student.fit_normalization(dataset["points"], dataset["proprio"], dataset["actions"])
            loss = train_student(student, optimizer, dataset, args.bc_updates, args.batch_size, noise, generator)
            print(f"Behaviour cloning on {len(dataset['actions'])} steps of {args.dataset}: loss {loss:.4f}")
            writer.add_scalar("Loss/bc_dataset", loss, 0)

        n_eval = int(args.eval_fraction * args.num_envs)
        ids = torch.arange(args.num_envs)
        groups = {"teacher": ids[:n_eval], "student": ids[n_eval : 2 * n_eval], "mixed": ids[2 * n_eval :]}
        offsets = (
            torch.randn(args.num_envs, 3, generator=generator),
            torch.randn(args.num_envs, student.config["proprio_dim"], generator=generator),
        )
        buffer: deque[dict[str, torch.Tensor]] = deque(maxlen=args.buffer_iterations)
        obs = env.reset()
        for it in range(start, start + args.iterations):
            p_teacher = p_teacher_at(it, args.p_teacher, args.p_teacher_decay)
            tic = time.perf_counter()
            obs, data, successes, cloud_share = rollout(
                env,
                obs,
                teacher,
                student,
                sensor,
                noise,
                offsets,
                p_teacher,
                groups,
                args.steps_per_iteration,
                generator,
            )
            rollout_s = time.perf_counter() - tic
            buffer.append(data)
            train_data = {
                k: torch.cat([d[k] for d in buffer] + ([dataset[k]] if dataset is not None else [])) for k in data
            }
            if it == 0 and dataset is None:  # normalization from the first data, labelled by the teacher
                student.fit_normalization(train_data["points"], train_data["proprio"], train_data["actions"])
            tic = time.perf_counter()
            loss = train_student(
                student, optimizer, train_data, args.updates_per_iteration, args.batch_size, noise, generator
            )
            train_s = time.perf_counter() - tic

            writer.add_scalar("Distill/p_teacher", p_teacher, it)
            writer.add_scalar("Loss/bc", loss, it)
            writer.add_scalar("Distill/buffer_steps", len(train_data["actions"]), it)
            writer.add_scalar("Perf/rollout_s", rollout_s, it)
            writer.add_scalar("Perf/train_s", train_s, it)
            writer.add_scalar("Perf/point_cloud_share_of_rollout", cloud_share, it)
            rates = {}
            for name, values in successes.items():
                if len(values):
                    rates[name] = float(values.float().mean())
                    writer.add_scalar(f"Distill/{name}_success", rates[name], it)
                    writer.add_scalar(f"Distill/{name}_episodes", len(values), it)
            shown = ", ".join(f"{k} success {v:.3f} ({len(successes[k])} ep)" for k, v in rates.items())
            print(
                f"iteration {it}: p_teacher {p_teacher:.3f}, loss {loss:.4f}, {shown or 'no episode ended'}, "
                f"rollout {rollout_s:.1f} s (point clouds {100 * cloud_share:.0f}%), train {train_s:.1f} s",
                flush=True,
            )
            if (it + 1) % args.save_interval == 0 or it == start + args.iterations - 1:
                save(it, p_teacher)
        if args.iterations == 0:
            save(start - 1, p_teacher_at(start, args.p_teacher, args.p_teacher_decay))
    print(f"Student checkpoints in {log_dir}")


if __name__ == "__main__":
    cli.run_main(main)
