"""Compare a task's action spaces: methods x seeds (x the task's comparison split) at equal environment-step
budgets, as the paper's Table 1.

    python tools/compare.py --task Leap-Grasp-v0 --methods rel_joint rfs_hand dsrl_hand --seeds 0 1 2 \
        --env_steps 2000000 --prior_hand <hand prior.pt> --prior_hand_arm <hand_arm prior.pt> --demos <demos.hdf5> \
        --vqvae <vqvae.pt> --out comparison/

Every run is a real PPO run (budget: control steps, so a chunked method gets fewer policy decisions), then an
evaluation of its final checkpoint (agents/comparison.py). The report (report.md, report.json) gives the
task's metric as mean and std over seeds per split (pinch, power) and overall, with the
penetration-infeasible fraction; curves.png shows it against environment steps. Runs already finished under
--out are reused and an interrupted one resumes, so an interrupted comparison resumes.
"""

from __future__ import annotations

import argparse

import cli

from agents.comparison import ComparisonCfg, compare

INPUTS = {
    "prior_hand": "hand prior for rfs_hand, rfs_chunk_hand, dsrl_hand",
    "prior_hand_arm": "hand+arm prior for rfs_hand_arm, dsrl_hand_arm, residual_hand_arm",
    "demos": "demonstrations for pca",
    "vqvae": "finger-motion VQ-VAE for vqvae (tools/train_vqvae.py)",
}


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, help=f"task id, one of: {', '.join(cli.TASKS)}")
    parser.add_argument("--methods", nargs="+", required=True, help="action spaces of the task")
    parser.add_argument("--seeds", nargs="+", type=cli.non_negative_int, default=[0, 1, 2])
    parser.add_argument("--env_steps", type=cli.positive_int, required=True, help="control steps per run")
    parser.add_argument("--num_envs", type=cli.positive_int, default=256)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0)
    parser.add_argument("--eval_episodes", type=cli.positive_int, default=1024)
    for kind, help in INPUTS.items():
        parser.add_argument(f"--{kind}", type=cli.existing_file, help=help)
    parser.add_argument("--out", type=cli.output_folder, required=True, help="report folder (runs resume from it)")
    args = parser.parse_args()
    inputs = {kind: getattr(args, kind) for kind in INPUTS if getattr(args, kind)}
    cfg = ComparisonCfg(task=args.task, methods=args.methods, env_steps=args.env_steps, seeds=args.seeds,
                        num_envs=args.num_envs, num_threads=args.num_threads, eval_episodes=args.eval_episodes,
                        inputs=inputs)  # fmt: skip
    print(compare(cfg, args.out))


if __name__ == "__main__":
    cli.run_main(main)
