"""DAgger: distil a privileged-state teacher into the point-cloud flow student (SPEC 6; 003, B.5).

Each iteration rolls out `steps_per_iteration` control steps in every environment. At every step the
teacher's command is the label; the executed command is the teacher's with probability p_teacher, drawn
per environment and step, else the student's (acting on noisy observations: Gaussian noise plus a
random offset drawn per episode). p_teacher starts at `p_teacher` and is multiplied by `p_teacher_decay`
each iteration. A slice of environments always executes the teacher and another always the student:
their episodes give the teacher's and the student's success per iteration. The labelled steps of the last
`buffer_iterations` iterations (and a collected dataset, if given) are the student's behaviour-cloning
data. Checkpoints are <log_dir>/student_<iteration>.pt; a resumed run starts with an empty rollout buffer.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.tensorboard import SummaryWriter

from agents.threads import every_core
from distill.chunking import ChunkedExecutor, windows
from distill.dataset import load_dataset, training_pairs
from distill.point_cloud import PointCloudCfg
from distill.student import Student, load_student, train_student
from distill.student_io import io_of
from distill.teacher import load_teacher, p_teacher_at


@dataclass(kw_only=True)
class DaggerCfg:
    num_envs: int = 1024
    steps_per_iteration: int = 128
    iterations: int = 200  # DAgger iterations to run (0: behaviour cloning on the dataset only)
    p_teacher: float = 1.0  # of the first iteration
    p_teacher_decay: float = 0.999  # factor on p_teacher per iteration
    eval_fraction: float = 0.125  # share of teacher-only and of student-only environments
    buffer_iterations: int = 4  # iterations of rollout data kept
    updates_per_iteration: int = 200
    batch_size: int = 256
    lr: float = 3e-4
    hidden_dims: list[int] = field(default_factory=lambda: [512, 512, 512])
    horizon: int = 2  # actions per predicted chunk (000's student: the next two)
    prefix: int = 0  # committed actions a chunk follows (003's cube student: 2, chunk 6)
    execute: int = 1  # actions executed per decision (at most the horizon)
    ema_alpha: float = 1.0  # EMA of the executed actions (1: none; 003's cube student: 0.5)
    bc_updates: int = 2000  # updates on the dataset before the first iteration
    state_loss_weight: float = 1.0  # of a point-cloud student's privileged-state prediction (0: no state head)
    skip_damaged: bool = False  # report and skip damaged dataset shards
    seed: int = 0
    num_threads: int = 0
    save_interval: int = 10

    def validate(self) -> None:
        ChunkedExecutor.check(self.horizon, self.prefix, self.execute, self.ema_alpha)
        if self.state_loss_weight < 0:
            raise ValueError(f"state_loss_weight must be non-negative, got {self.state_loss_weight}")
        if not 0.0 < self.p_teacher_decay <= 1.0:
            raise ValueError(f"p_teacher_decay must be in (0, 1], got {self.p_teacher_decay}")
        if not 0.0 <= self.eval_fraction <= 0.5:
            raise ValueError(f"eval_fraction must be in [0, 0.5], got {self.eval_fraction}")


@torch.inference_mode()
def rollout(io, obs, teacher, student, executor, noise, offsets, p_teacher, groups, steps, generator) -> tuple:
    """`steps` control steps from `obs`; returns the next obs, the labelled pairs, the primary metric of the
    episodes that ended, by group, and the share of time spent observing (point clouds). The student acts
    through `executor` (`Student.executor`), on noisy observations."""
    env, n = io.env, io.env.num_envs
    points, proprio, states, labels, dones = [], [], [], [], []
    ended_metric = {name: [] for name in groups}
    observe_time, start = 0.0, time.perf_counter()
    noisy = None

    def decide(env_ids, prefix):
        with every_core():
            return student.act(None if noisy[0] is None else noisy[0][env_ids], noisy[1][env_ids], prefix)

    executor.decide = decide
    for _ in range(steps):
        tic = time.perf_counter()
        cloud, own = io.observe()
        observe_time += time.perf_counter() - tic
        state = io.state() if student.state_head is not None else None  # the state head's target
        teacher_actions = teacher(obs)
        label = io.label(teacher_actions)
        by_teacher = torch.rand(n, generator=generator) < p_teacher
        by_teacher[groups["teacher"]], by_teacher[groups["student"]] = True, False
        noisy = student.perturb(cloud, own, noise, *offsets, generator=generator)
        actions = torch.where(by_teacher.unsqueeze(-1), label, executor())
        obs, _, done, extras = io.step(actions, teacher_actions)
        done = done.cpu()
        for store, value in ((points, cloud), (proprio, own), (states, state), (labels, label), (dones, done)):
            store.append(value)
        ended = done.nonzero().squeeze(-1)
        if len(ended):
            io.reset(ended)
            executor.reset(ended, io.hold(ended))
            offsets[0][ended] = torch.randn(len(ended), 3, generator=generator)
            offsets[1][ended] = torch.randn(len(ended), offsets[1].shape[1], generator=generator)
            metric = extras["log"][f"Metrics/{env.primary_metric}"].cpu()
            for name, members in groups.items():
                ended_metric[name].append(metric[torch.isin(ended, members)])
    # Windows of the prefix and the chunk after each step, within one episode.
    prefix = student.config["prefix"]
    valid, spans = windows(torch.stack(labels), torch.stack(dones), prefix + student.config["horizon"])
    data = {"proprio": torch.stack(proprio)[: len(valid)][valid], "actions": spans[valid][:, prefix:]}
    for name, values in (("points", points), ("states", states)):
        if values[0] is not None:
            data[name] = torch.stack(values)[: len(valid)][valid]
    if prefix:
        data["prefix"] = spans[valid][:, :prefix]
    ended_metric = {name: torch.cat(values) if values else torch.zeros(0) for name, values in ended_metric.items()}
    return obs, data, ended_metric, observe_time / (time.perf_counter() - start)


def run(
    cfg: DaggerCfg,
    log_dir: str,
    teacher_paths: Sequence[str] = (),
    point_cloud: PointCloudCfg | None = None,
    noise: dict | None = None,
    resume: str | None = None,
    dataset_path: str | None = None,
) -> None:
    """Run DAgger into `log_dir`: a new student of the teacher at `teacher_paths` (one, or one per value of the
    task's comparison split: distill.teacher.load_teacher) sensing with `point_cloud` (where
    its task's student sees one, `distill.student_io`) and perturbed by its task's student noise with the values
    of `noise` (ObservationNoiseCfg fields) over it, or the student checkpoint `resume` continued (its teacher
    unless one is given, its sensor, noise and p_teacher schedule). Everything given is checked before the first
    rollout."""
    cfg.validate()
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    saved, start = None, 0
    if resume:
        student, saved = load_student(resume)
        start = saved["iter"] + 1
        teacher_paths = teacher_paths or saved["infos"]["teacher"]
        point_cloud = saved["infos"]["point_cloud"] and PointCloudCfg.from_dict(saved["infos"]["point_cloud"])
        noise = saved["infos"]["noise"]
        if "p_teacher_schedule" in saved["infos"]:  # the run's own schedule goes on
            start_p, decay = saved["infos"]["p_teacher_schedule"]
            cfg = dataclasses.replace(cfg, p_teacher=start_p, p_teacher_decay=decay)
        print(f"Resuming {resume} at iteration {start}")
    if not teacher_paths:
        raise ValueError("a teacher checkpoint is required")
    env, teacher, teacher_info = load_teacher(
        teacher_paths, num_envs=cfg.num_envs, seed=cfg.seed, num_threads=cfg.num_threads
    )
    task = env.cfg.task_id
    io = io_of(env, point_cloud, generator)
    noise = dataclasses.replace(io.noise, **(noise or {}))
    if saved is not None and saved["infos"].get("task") != task:
        raise ValueError(
            f"student {resume} was distilled on '{saved['infos'].get('task')}', the teacher is of '{task}'"
        )
    if saved is None:
        sizes = io.sizes()
        if cfg.state_loss_weight == 0:
            sizes["state_dim"] = 0
        student = Student(
            **sizes,
            point_cloud=io.point_cloud,
            hidden_dims=cfg.hidden_dims,
            horizon=cfg.horizon,
            prefix=cfg.prefix,
            execute=cfg.execute,
            ema_alpha=cfg.ema_alpha,
        )
    dataset = None
    if dataset_path and not io.point_cloud:
        raise ValueError(f"--dataset: collected datasets hold point clouds; a student of '{task}' sees none")
    if dataset_path:  # all of it is read and checked before any rollout
        dataset = {
            k: torch.from_numpy(v)
            for k, v in training_pairs(
                load_dataset(dataset_path, task, cfg.skip_damaged), student.config["horizon"], student.config["prefix"]
            ).items()
        }
        found = (dataset["points"].shape[1], dataset["proprio"].shape[1], dataset["actions"].shape[-1])
        expected = (point_cloud.num_points, student.config["proprio_dim"], student.config["action_dim"])
        if found != expected:
            raise ValueError(f"{dataset_path} has (points, proprio, action) sizes {found}, the student {expected}")

    optimizer = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=1e-4)
    if saved is not None and "optimizer" in saved:  # a shipped student has none: Adam starts afresh
        optimizer.load_state_dict(saved["optimizer"])
    infos = {  # with how tools/play.py and tools/evaluate.py execute the student
        "task": task,
        "teacher": [os.path.abspath(path) for path in teacher_paths],
        "noise": dataclasses.asdict(noise),
        "p_teacher_schedule": [cfg.p_teacher, cfg.p_teacher_decay],
        **io.infos(teacher_info),
    }
    if "trained_on" in teacher_info:  # a student of one family's teacher is evaluated on that family
        infos["trained_on"] = teacher_info["trained_on"]

    def save(iteration: int, p_teacher: float) -> None:
        path = os.path.join(log_dir, f"student_{max(iteration, 0)}.pt")  # -1: behaviour cloning only
        student.save(
            path, {"infos": infos, "iter": iteration, "p_teacher": p_teacher, "optimizer": optimizer.state_dict()}
        )

    with SummaryWriter(log_dir) as writer:
        if dataset is not None and saved is None:
            student.fit_normalization(dataset.get("points"), dataset["proprio"], dataset["actions"], dataset["states"])
            losses = train_student(
                student, optimizer, dataset, cfg.bc_updates, cfg.batch_size, noise, generator, cfg.state_loss_weight
            )
            print(f"Behaviour cloning on {len(dataset['actions'])} steps of {dataset_path}: loss {losses['flow']:.4f}")
            for name, value in losses.items():
                writer.add_scalar(f"Loss/{name}_dataset", value, 0)

        n_eval = int(cfg.eval_fraction * cfg.num_envs)
        ids = torch.arange(cfg.num_envs)
        groups = {"teacher": ids[:n_eval], "student": ids[n_eval : 2 * n_eval], "mixed": ids[2 * n_eval :]}
        offsets = (
            torch.randn(cfg.num_envs, 3, generator=generator),
            torch.randn(cfg.num_envs, student.config["proprio_dim"], generator=generator),
        )
        buffer: deque[dict[str, torch.Tensor]] = deque(maxlen=cfg.buffer_iterations)
        obs = env.reset()
        executor = student.executor(cfg.num_envs, None)  # its decisions are wired in `rollout`
        executor.reset(ids, io.hold(ids))
        for it in range(start, start + cfg.iterations):
            p_teacher = p_teacher_at(it, cfg.p_teacher, cfg.p_teacher_decay)
            tic = time.perf_counter()
            obs, data, ended_metric, observe_share = rollout(
                io,
                obs,
                teacher,
                student,
                executor,
                noise,
                offsets,
                p_teacher,
                groups,
                cfg.steps_per_iteration,
                generator,
            )
            rollout_s = time.perf_counter() - tic
            buffer.append(data)
            train_data = {
                k: torch.cat([d[k] for d in buffer] + ([dataset[k]] if dataset is not None else [])) for k in data
            }
            if it == 0 and dataset is None:  # normalization from the first data, labelled by the teacher
                student.fit_normalization(
                    train_data.get("points"), train_data["proprio"], train_data["actions"], train_data.get("states")
                )
            tic = time.perf_counter()
            with every_core():  # the physics pool is idle
                losses = train_student(
                    student,
                    optimizer,
                    train_data,
                    cfg.updates_per_iteration,
                    cfg.batch_size,
                    noise,
                    generator,
                    state_loss_weight=cfg.state_loss_weight,
                )
            train_s = time.perf_counter() - tic

            writer.add_scalar("Distill/p_teacher", p_teacher, it)
            writer.add_scalar("Loss/bc", losses["flow"], it)
            if "state" in losses:
                writer.add_scalar("Loss/state", losses["state"], it)
            writer.add_scalar("Distill/buffer_steps", len(train_data["actions"]), it)
            writer.add_scalar("Perf/rollout_s", rollout_s, it)
            writer.add_scalar("Perf/train_s", train_s, it)
            writer.add_scalar("Perf/observation_share_of_rollout", observe_share, it)
            metric, means = env.primary_metric, {}
            for name, values in ended_metric.items():
                if len(values):
                    means[name] = float(values.float().mean())
                    writer.add_scalar(f"Distill/{name}_{metric}", means[name], it)
                    writer.add_scalar(f"Distill/{name}_episodes", len(values), it)
            shown = ", ".join(f"{k} {metric} {v:.3f} ({len(ended_metric[k])} ep)" for k, v in means.items())
            print(
                f"iteration {it}: p_teacher {p_teacher:.3f}, loss {losses['flow']:.4f}, {shown or 'no episode ended'}, "
                f"rollout {rollout_s:.1f} s (observations {100 * observe_share:.0f}%), train {train_s:.1f} s",
                flush=True,
            )
            if (it + 1) % cfg.save_interval == 0 or it == start + cfg.iterations - 1:
                save(it, p_teacher)
        if cfg.iterations == 0:
            save(start - 1, p_teacher_at(start, cfg.p_teacher, cfg.p_teacher_decay))
