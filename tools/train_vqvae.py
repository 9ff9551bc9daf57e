"""Train the finger-motion VQ-VAE of the `vqvae` action space on demonstrations.

    python tools/train_vqvae.py --demos demos/leap_grasp.hdf5 --num_steps 4000

Writes vqvae.pt (atomically), params.json with the final reconstruction error against holding the
previous pose, and TensorBoard logs to logs/vqvae/<timestamp>/. Pass vqvae.pt to
`tools/train.py --action_space vqvae --vqvae_checkpoint ...`.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime

import cli

import torch
from torch.utils.tensorboard import SummaryWriter

from agents.demonstrations import demo_task
from agents.vqvae import FingerVQVAE, demo_pairs, train_vqvae
from isaac_tasks import env_class


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--demos", type=cli.existing_file, required=True, help="HDF5 demonstration file (agents/demonstrations.py)"
    )
    parser.add_argument("--num_steps", type=cli.positive_int, default=4000, help="gradient steps")
    parser.add_argument("--num_codes", type=cli.positive_int, default=64, help="codebook size")
    parser.add_argument("--code_dim", type=cli.positive_int, default=8, help="latent size per step (Table 2: 8)")
    parser.add_argument("--batch_size", type=cli.positive_int, default=512)
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--log_root", default=os.path.join("logs", "vqvae"))
    args = parser.parse_args()

    log_dir = cli.output_path(
        os.path.join(args.log_root, datetime.now().strftime("%Y-%m-%d_%H-%M-%S")), "--log_root", folder=True
    )
    task = demo_task(args.demos)
    num_fingers = env_class(task).num_finger_joints
    previous, targets = demo_pairs(args.demos, task, num_fingers)
    torch.manual_seed(args.seed)
    model = FingerVQVAE(num_fingers, code_dim=args.code_dim, num_codes=args.num_codes)
    with cli.staged_folder(log_dir) as staging, SummaryWriter(staging) as writer:  # the run folder appears complete
        results = train(args, task, model, previous, targets, staging, writer)
    print(f"reconstruction RMSE {results['rmse_rad']:.4f} rad (holding the previous pose: "
          f"{results['hold_previous_rmse_rad']:.4f}); {results['codes_used']}/{args.num_codes} codes used")  # fmt: skip
    print(f"Done: {os.path.join(log_dir, 'vqvae.pt')}")


def train(args, task, model, previous, targets, log_dir, writer) -> dict:
    """Fit `model`, save it and its params in `log_dir`; returns its reconstruction figures."""
    print(f"Training the VQ-VAE on {len(previous)} step pairs")

    def log(step: int, loss: float, error: float) -> None:
        if (step + 1) % 50 == 0:
            writer.add_scalar("Loss/total", loss, step + 1)
            writer.add_scalar("Loss/reconstruction", error, step + 1)
        if (step + 1) % 1000 == 0:
            print(f"step {step + 1}/{args.num_steps}  loss {loss:.4f}  reconstruction {error:.4f}", flush=True)

    train_vqvae(model, previous, targets, args.num_steps, args.batch_size, generator=torch.Generator().manual_seed(args.seed), log_fn=log)  # fmt: skip
    with torch.no_grad():
        decoded = model.decode(previous, model.quantize(model.encode(previous, targets)))
    rmse = (decoded - targets).pow(2).mean().sqrt().item()
    hold_rmse = (previous[:, None] - targets).pow(2).mean().sqrt().item()
    codes_used = torch.cdist(model.encode(previous, targets).detach().flatten(0, 1), model.codebook).argmin(-1)
    results = {"rmse_rad": rmse, "hold_previous_rmse_rad": hold_rmse, "codes_used": len(codes_used.unique())}
    path = os.path.join(log_dir, "vqvae.pt")
    model.save(path, {"task": task, "demos": os.path.abspath(args.demos), "step": args.num_steps})
    with open(os.path.join(log_dir, "params.json"), "w") as f:
        json.dump({**vars(args), "model": model.config, "num_pairs": len(previous), **results}, f, indent=2)
    return results


if __name__ == "__main__":
    cli.run_main(main)
