"""Teacher PPO of the cube-rotation task: paper 003, Table IV and B.4 e."""

from __future__ import annotations


def ppo_runner_cfg(experiment_name: str) -> dict:
    return {
        "experiment_name": experiment_name,
        "run_name": "",
        "num_steps_per_env": 24,
        "max_iterations": 10000,
        "save_interval": 100,
        "logger": "tensorboard",
        "obs_groups": {"actor": ["policy"], "critic": ["policy"]},
        "actor": {
            "class_name": "MLPModel",
            "hidden_dims": [512, 512, 256, 128],
            "activation": "elu",
            "obs_normalization": True,
            "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 1.0, "std_type": "log"},
        },
        "critic": {
            "class_name": "MLPModel",
            "hidden_dims": [512, 512, 256, 128],
            "activation": "elu",
            "obs_normalization": True,
        },
        "algorithm": {
            "class_name": "PPO",
            "num_learning_epochs": 5,
            "num_mini_batches": 4,
            "learning_rate": 1.0e-4,
            "schedule": "adaptive",
            "desired_kl": 0.01,
            "gamma": 0.99,
            "lam": 0.95,
            "clip_param": 0.2,
            "entropy_coef": 1.0e-4,
            "value_loss_coef": 1.0,
            "use_clipped_value_loss": True,
            "max_grad_norm": 1.0,
        },
    }
