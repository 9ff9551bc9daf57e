"""PPO through rsl-rl's own `OnPolicyRunner`, with safe checkpoint files.

Checkpoints are written atomically (temporary file, then rename) and carry the task id, the action space
and the action size, which loading checks; they are read with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import filecmp
import glob
import math
import os
import shutil
import tempfile

import torch
from rsl_rl.runners import OnPolicyRunner

from agents.threads import every_core


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or made for another task."""


def _readable_as_umask_allows(path: str) -> None:
    """mkstemp makes a file private to its owner; a checkpoint gets the mode of any file its user writes."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def save_atomically(obj: dict, path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_", suffix=".pt")
    try:
        with os.fdopen(handle, "wb") as f:
            torch.save(obj, f)
        _readable_as_umask_allows(tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def remove_stale_temporaries(folder: str) -> None:
    """Remove the temporaries of `save_atomically` writes cut short by a kill."""
    for stale in glob.glob(os.path.join(folder, ".tmp_*.pt")):
        os.remove(stale)


def load_saved(path: str, what: str, keys: set[str]) -> dict:
    """A dict this project saved at `path`, read with weights_only=True and holding `keys`; CheckpointError
    naming `what` and `path` otherwise."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{what} not found: {path}")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for damaged files
        raise CheckpointError(f"{what} {path} is unreadable or corrupt ({type(error).__name__})") from None
    if not isinstance(saved, dict) or not keys <= saved.keys():
        raise CheckpointError(f"{path} is not a {what} of this project (needs {', '.join(sorted(keys))})")
    return saved


def build_saved(cls: type[torch.nn.Module], saved: dict, path: str, what: str) -> torch.nn.Module:
    """`cls(**saved["config"])` with `saved["state_dict"]` loaded; CheckpointError if they do not fit."""
    try:
        model = cls(**saved["config"])
        model.load_state_dict(saved["state_dict"])
    except (TypeError, RuntimeError, KeyError, ValueError) as error:
        raise CheckpointError(f"{what} {path} does not fit its config: {error}") from None
    return model


def read_checkpoint(path: str, task: str | None = None, num_actions: int | None = None) -> dict:
    """Load a checkpoint dict, checking that it is one of ours and fits `task` and `num_actions`."""
    checkpoint = load_saved(path, "policy checkpoint", {"actor_state_dict", "infos"})
    info = checkpoint["infos"]
    if not isinstance(info, dict):
        raise CheckpointError(f"{path} is not a policy checkpoint of this project (its infos are not a dict)")
    if task is not None and info.get("task") != task:
        raise CheckpointError(f"checkpoint {path} was trained on task '{info.get('task')}', not '{task}'")
    if num_actions is not None and info.get("num_actions") != num_actions:
        raise CheckpointError(
            f"checkpoint {path} has {info.get('num_actions')} actions ('{info.get('action_space')}'), "
            f"the environment expects {num_actions}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    for key in PATH_SETTINGS:  # a shipped checkpoint names its files relative to itself
        if info.get(key) and not os.path.isabs(info[key]):
            info[key] = os.path.join(folder, info[key])
    return checkpoint


def ship_checkpoint(path: str, out: str, task: str) -> list[str]:
    """Copy the policy checkpoint `path` to `out` with the files its environment reads (a prior, demonstrations,
    a VQ-VAE) beside it and named relative to it, so that the folder replays from anywhere; returns the files
    written. A different file of the same name already beside `out` is refused."""
    checkpoint = read_checkpoint(path, task)
    info = checkpoint["infos"]
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    written = []
    for key in PATH_SETTINGS:
        source = info.get(key)
        if not source:
            continue
        if not os.path.isfile(source):
            raise CheckpointError(f"checkpoint {path} needs {key} {source}, which does not exist")
        target = os.path.join(folder, os.path.basename(source))
        if os.path.exists(target):
            if not filecmp.cmp(source, target, shallow=False):
                raise CheckpointError(f"{target} exists and differs from {source}, the {key} of {path}")
        else:
            handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_")
            os.close(handle)
            shutil.copyfile(source, tmp)
            _readable_as_umask_allows(tmp)
            os.replace(tmp, target)
            written.append(target)
        info[key] = os.path.basename(source)
    save_atomically(checkpoint, out)
    return [out, *written]


# The files among the settings a checkpoint records (the environment's `action_settings`), shipped beside it.
PATH_SETTINGS = ("prior_checkpoint", "demos_path", "vqvae_checkpoint")
# What checkpoints written before they named their settings (`infos["action_settings"]`) recorded.
EARLIER_ACTION_SETTINGS = (
    "action_space",
    "prior_checkpoint",
    "prior_num_steps",
    "demos_path",
    "vqvae_checkpoint",
    "vqvae_residual",
)


# Ranges of the runner settings a user may override (rsl-rl checks none of them): (low, high, low included).
PPO_RANGES = {
    "num_steps_per_env": (1, None, True),
    "max_iterations": (1, None, True),
    "save_interval": (1, None, True),
    "algorithm.num_learning_epochs": (1, None, True),
    "algorithm.num_mini_batches": (1, None, True),
    "algorithm.learning_rate": (0, None, False),
    "algorithm.desired_kl": (0, None, False),
    "algorithm.gamma": (0, 1, False),
    "algorithm.lam": (0, 1, True),
    "algorithm.clip_param": (0, None, False),
    "algorithm.entropy_coef": (0, None, True),
    "algorithm.value_loss_coef": (0, None, True),
    "algorithm.max_grad_norm": (0, None, False),
}


def check_ppo_cfg(cfg: dict) -> None:
    """ValueError naming the first setting of a PPO runner config that is not a finite number or is out of its
    range (PPO_RANGES), before anything is built."""

    def walk(node, prefix=""):
        for key, value in node.items():
            if isinstance(value, dict):
                yield from walk(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    for key, value in walk(cfg):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"PPO setting {key} must be finite, got {value}")
        if key in PPO_RANGES:
            low, high, closed = PPO_RANGES[key]
            below = value < low if closed else value <= low
            if below or (high is not None and value > high):
                bound = f"{'>=' if closed else '>'} {low}" + (f" and <= {high}" if high is not None else "")
                raise ValueError(f"PPO setting {key} must be {bound}, got {value}")


class PPORunner(OnPolicyRunner):
    """rsl-rl's runner; checkpoint I/O differs, and the PPO update runs on every core (agents/threads.py)."""

    def __init__(
        self,
        env,
        train_cfg: dict,
        task: str,
        log_dir: str | None = None,
        device: str = "cpu",
        publish_dir: str | None = None,
    ):
        """`publish_dir`: where the run folder `log_dir` (then a staging folder) is moved by its first checkpoint;
        TensorBoard logging only (a W&B or Neptune run would start again after the move)."""
        if publish_dir and train_cfg.get("logger", "tensorboard") != "tensorboard":
            raise ValueError("a staged run folder (publish_dir) needs the tensorboard logger")
        super().__init__(env, train_cfg, log_dir=log_dir, device=device)
        self.publish_dir = publish_dir
        update = self.alg.update

        def update_on_every_core() -> dict[str, float]:
            with every_core():
                return update()

        self.alg.update = update_on_every_core
        settings = env.action_settings()
        self.checkpoint_info = {
            "task": task,
            **settings,
            "action_settings": list(settings),
            "num_actions": env.num_actions,
        }
        if env.comparison_split is not None:
            split = env.comparison_split[0]
            self.checkpoint_info["trained_on"] = {split: getattr(env.cfg, split)}

    def learn(self, *args, **kwargs) -> None:
        super().learn(*args, **kwargs)
        if self.logger.writer is not None:  # rsl-rl leaves a TensorBoard writer open: its last events may be lost
            self.logger.writer.flush()

    def save(self, path: str, infos: dict | None = None) -> None:
        saved = self.alg.save()
        saved["iter"] = self.current_learning_iteration
        saved["infos"] = {**self.checkpoint_info, "env_state": self.env.training_state(), **(infos or {})}
        save_atomically(saved, path)
        staging = self.logger.log_dir
        if self.publish_dir and staging != self.publish_dir and os.path.dirname(path) == staging:
            # the run folder appears with its first checkpoint: a run killed before it leaves no folder to resume.
            # TensorBoard appends to its event file by path, so its writer is closed and opened again after the move.
            self.logger.writer.close()
            os.replace(staging, self.publish_dir)
            self.logger.log_dir = self.publish_dir
            self.logger.init_logging_writer()
            path = os.path.join(self.publish_dir, os.path.basename(path))
        self.logger.save_model(path, self.current_learning_iteration)

    def load(
        self,
        path: str,
        load_cfg: dict | None = None,
        strict: bool = True,
        map_location: str | None = None,
        restore_env_state: bool = True,
    ) -> dict:
        """Load a checkpoint; a resumed training run also continues the task's training state (its curriculum),
        which evaluation leaves as configured (`restore_env_state=False`)."""
        checkpoint = read_checkpoint(path, self.checkpoint_info["task"], self.checkpoint_info["num_actions"])
        try:
            if self.alg.load(checkpoint, load_cfg, strict):
                self.current_learning_iteration = checkpoint["iter"] + 1  # the saved iteration was completed
        except (RuntimeError, KeyError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path} does not fit this policy: {error}") from None
        if restore_env_state:
            self.env.load_training_state(checkpoint["infos"].get("env_state", {}))
        return checkpoint["infos"]


def load_policy(env, task: str, checkpoint: str, agent_cfg: dict) -> tuple[PPORunner, torch.nn.Module]:
    """A runner holding `checkpoint` (without logging) and its deterministic inference policy."""
    runner = PPORunner(env, agent_cfg, task=task, log_dir=None, device=str(env.device))
    runner.load(checkpoint, restore_env_state=False)
    return runner, runner.get_inference_policy()


def env_overrides(info: dict) -> dict:
    """Settings a checkpoint's environment needs again: its action space, the settings that scale its actions and
    the prior or demonstrations behind it. A setting given on the command line still wins (an ablation)."""
    keys = info.get("action_settings", EARLIER_ACTION_SETTINGS)
    return {key: info[key] for key in keys if info.get(key) is not None}


def env_defaults(info: dict) -> dict:
    """Settings a checkpoint was trained on that its evaluation keeps unless told otherwise: the task's split (a
    policy trained on pinch objects is evaluated on them)."""
    return dict(info.get("trained_on", {}))
