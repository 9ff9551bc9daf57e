"""Grasping and lifting objects from a table with a hand on a Franka arm (paper 000); the hand is data."""
