"""What a student sees and does in a task, and how its actions drive the task; the student as a policy.

Two kinds, chosen by the task (`io_of`):

- `CommandIO`, tasks with a flow-prior interface (the grasping tasks; 000's student): a point cloud from
  depth cameras and the task's proprioception in; the task's hand_arm prior commands out, executed through
  the teacher environment's `CommandOverride`, or as an `abs_joint` action when the student plays alone.
- `ActionIO`, the other tasks (cube rotation; 003's student): the task's `student_observation()` in (its pose
  estimates, no point cloud); the teacher's own actions out, in the teacher's action space.
"""

from __future__ import annotations

import dataclasses

import torch

from agents.ppo_runner import env_overrides
from distill.point_cloud import PointCloudCfg, PointCloudSensor
from distill.student import ObservationNoiseCfg, Student, command_to_arm_and_fingers, hold_command, student_sizes
from distill.teacher import execute, teacher_command
from isaac_tasks import task_entry


class CommandIO:
    point_cloud = True
    # 000 perturbs the cameras and the points, not the robot's joint encoders: proprioception gets a little noise.
    noise = ObservationNoiseCfg(proprio_std=0.02, proprio_offset_std=0.0)

    def __init__(self, env, point_cloud: PointCloudCfg, generator: torch.Generator):
        self.env, self.sensor = env, PointCloudSensor(env.physics, point_cloud, generator)

    def sizes(self) -> dict[str, int]:
        return {**student_sizes(self.env), "state_dim": self.env.privileged_state().shape[-1]}

    def infos(self, teacher_info: dict) -> dict:
        """How play.py and evaluate.py run the student: its commands are what `abs_joint` executes."""
        return {"action_space": "abs_joint", "point_cloud": dataclasses.asdict(self.sensor.cfg)}

    def observe(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sensor(), self.env.proprioception().cpu()

    def state(self) -> torch.Tensor:
        """The privileged state the student learns to predict from its point cloud (not an input)."""
        return self.env.privileged_state().cpu()

    def reset(self, env_ids: torch.Tensor) -> None:
        self.sensor.reset(env_ids.cpu())

    def hold(self, env_ids: torch.Tensor) -> torch.Tensor:
        return hold_command(self.env, env_ids.to(self.env.device)).cpu()

    def label(self, teacher_actions: torch.Tensor) -> torch.Tensor:
        return teacher_command(self.env, teacher_actions).cpu()

    def step(self, actions: torch.Tensor, teacher_actions: torch.Tensor):
        """One step of the teacher's environment executing the student's `actions` (N, action_dim)."""
        execute(self.env, actions.to(self.env.device))
        return self.env.step(teacher_actions)

    def env_action(self, command: torch.Tensor) -> torch.Tensor:
        """A command as the action of an `abs_joint` environment (the student playing alone)."""
        env = self.env
        arm, fingers = command_to_arm_and_fingers(env, command.to(env.device))
        low, high = env.finger_limits.unbind(-1)
        return torch.cat((arm, 2.0 * (fingers - low) / (high - low) - 1.0), dim=-1)


class ActionIO:
    point_cloud = False
    noise = ObservationNoiseCfg()  # 003's strong noise on the pose estimates and joint states (B.5)

    def __init__(self, env):
        self.env = env

    def sizes(self) -> dict[str, int]:
        return {
            "proprio_dim": self.env.student_observation().shape[-1],
            "action_dim": self.env.num_actions,
            "state_dim": 0,
        }

    def infos(self, teacher_info: dict) -> dict:
        """The student acts in its teacher's action space, with its settings."""
        settings = env_overrides(teacher_info)
        return {**settings, "action_settings": list(settings), "point_cloud": None}

    def observe(self) -> tuple[None, torch.Tensor]:
        return None, self.env.student_observation().cpu()

    def state(self) -> None:
        return None

    def reset(self, env_ids: torch.Tensor) -> None:
        pass

    def hold(self, env_ids: torch.Tensor) -> torch.Tensor:
        return self.env.hold_action(env_ids.to(self.env.device)).cpu()

    def label(self, teacher_actions: torch.Tensor) -> torch.Tensor:
        return teacher_actions.cpu()

    def step(self, actions: torch.Tensor, teacher_actions: torch.Tensor):
        return self.env.step(actions.to(self.env.device))

    def env_action(self, actions: torch.Tensor) -> torch.Tensor:
        return actions.to(self.env.device)


def io_of(env, point_cloud: PointCloudCfg | None, generator: torch.Generator) -> CommandIO | ActionIO:
    """The student interface of `env`'s task: commands and point clouds where the task has a flow-prior
    interface, else its own actions and `student_observation()`."""
    if task_entry(env.cfg.task_id).prior_io:
        if point_cloud is None:
            raise ValueError(f"a student of '{env.cfg.task_id}' sees a point cloud; none is configured")
        return CommandIO(env, point_cloud, generator)
    if not hasattr(env, "student_observation"):
        raise ValueError(f"task '{env.cfg.task_id}' defines no observation for a student")
    return ActionIO(env)


class StudentPlayer:
    """The student as a policy of its task's environment (`abs_joint` for a command student): observations in,
    actions out. It observes through its `io` (casting its own point clouds, with new camera calibration errors
    for environments whose episode just started) and runs its chunks as it was trained to
    (`Student.executor`), so `run_episodes` and the evaluation tools drive it as they drive a teacher.
    """

    def __init__(self, io: CommandIO | ActionIO, student: Student):
        if isinstance(io, CommandIO) and io.env.cfg.action_space != "abs_joint":
            raise ValueError(
                f"a point-cloud student drives an 'abs_joint' environment, not '{io.env.cfg.action_space}'"
            )
        self.io, self.student = io, student
        self.executor = student.executor(io.env.num_envs, self.decide)
        self.observed: tuple[torch.Tensor | None, torch.Tensor] | None = None

    def decide(self, env_ids: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        points, proprio = self.observed
        return self.student.act(None if points is None else points[env_ids], proprio[env_ids], prefix)

    def __call__(self, obs) -> torch.Tensor:
        fresh = (self.io.env.episode_length_buf == 0).nonzero().squeeze(-1).cpu()
        if len(fresh):
            self.io.reset(fresh)
            self.executor.reset(fresh, self.io.hold(fresh))
        self.observed = self.io.observe()
        return self.io.env_action(self.executor())
