"""The training methods by name (``--method``)."""

from __future__ import annotations


def get(name):
    if name == "residual":
        from tfface.training.residual_gan import ResidualMethod

        return ResidualMethod()
    if name == "iterative":
        from tfface.training.iterative_gan import IterativeMethod

        return IterativeMethod()
    raise ValueError(f"unknown method {name!r}; valid: residual, iterative")
