"""Evaluation: metrics and the runner that scores a model on benchmark files."""
