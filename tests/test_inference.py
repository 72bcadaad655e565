import math

import numpy as np
import pytest
import tensorflow as tf

from tfface.errors import UsageError
from tfface.inference import ResidualEditor


class ShiftModel:
    """A stand-in residual GAN whose G0 brightens by 0.4 and G1 darkens by 0.4 (in [-1, 1] units), clipped
    as a real G's tanh output is."""

    image_size = 8

    def __init__(self):
        self.g0 = lambda x, training=False: tf.clip_by_value(x + 0.4, -1.0, 1.0)
        self.g1 = lambda x, training=False: tf.clip_by_value(x - 0.4, -1.0, 1.0)


def test_strength_scales_the_residual_as_tfface_edit_does():
    x = np.full((3, 8, 8, 3), 100, np.uint8)
    full = ResidualEditor(ShiftModel()).edit("add", x).astype(int)
    half = ResidualEditor(ShiftModel(), strength=0.5).edit("add", x).astype(int)
    double = ResidualEditor(ShiftModel(), strength=2.0).edit("remove", x + 100).astype(int)
    assert np.all(full == 100 + 51)  # 0.4 * 127.5
    assert np.all(np.abs(half - (100 + 25.5)) <= 0.5)
    assert np.all(double == 200 - 102)
    # The scaled edit is clipped to the image range like the full one.
    bright = np.full((1, 8, 8, 3), 250, np.uint8)
    assert np.all(ResidualEditor(ShiftModel(), strength=3.0).edit("add", bright) == 255)


@pytest.mark.parametrize("strength", [0.0, -0.5, math.nan, math.inf])
def test_evaluate_refuses_a_strength_that_is_not_a_positive_number(strength, tmp_path):
    from tfface.evaluation.evaluate import evaluate

    with pytest.raises(UsageError, match="--strength"):
        evaluate(str(tmp_path / "no-such-run"), strength=strength, say=lambda m: None)
