import numpy as np

from tfface.evaluation.residual import discriminator_view


class _D:
    """A stand-in D whose logits are read from the images: pixel (0, 0)'s three channels, in [-1, 1] units."""

    def d(self, x, training=False):
        return np.asarray(x)[:, 0, 0, :], None


def _images(logits):
    """uint8 images whose pixel (0, 0) carries the given logits."""
    x = np.zeros((len(logits), 4, 4, 3), np.uint8)
    x[:, 0, 0, :] = np.round((np.asarray(logits) + 1) * 127.5).astype(np.uint8)
    return x


def test_discriminator_view_reports_the_target_class_and_ds_recall_of_the_real_inputs():
    # Removal (target class 0): the inputs are real images of class 1. D ranks 3 of the 4 in class 1.
    inputs = _images([[-1, 1, 0], [-1, 0.5, 0], [0, 0.2, 1], [1, -1, -1]])
    edits = _images([[1, -1, -1], [1, -1, -1]])
    view = discriminator_view(_D(), edits, target=0, inputs=inputs)
    p0 = np.exp(2.0) / (np.exp(2.0) + 2 * np.exp(0.0))  # logits (1, -1, -1) shifted: (2, 0, 0)
    np.testing.assert_allclose(view["d_target"], p0, atol=0.02)
    np.testing.assert_allclose(view["d_generated"], (1 - p0) / 2, atol=0.02)
    assert view["d_real_recall"] == 0.75
    assert "d_real_recall" not in discriminator_view(_D(), edits, target=0)
