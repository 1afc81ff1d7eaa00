"""Training: the loop, callbacks, distribution, the learning-rate finder, the evaluation report."""
