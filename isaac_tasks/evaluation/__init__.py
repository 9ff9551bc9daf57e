"""Evaluation metrics computed outside the training loop."""
