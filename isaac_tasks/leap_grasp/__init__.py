"""LEAP hand on a Franka arm: grasping and lifting (paper 000)."""
