"""Filled in by the nn/optim/data layer."""
