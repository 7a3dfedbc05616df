"""Training: on-the-fly shapes data, vision pre-training (stage 0), LLaVA stages 1 and 2."""
