import pytest

from tfface.training.iterative_gan import IterativeGAN
from tfface.training.residual_gan import ResidualGAN


@pytest.mark.parametrize("cls,kwargs", [
    (ResidualGAN, dict(image_size=32, width=0.125, dual=False, d_norm="batch", residual_init="normal")),
    (IterativeGAN, dict(image_size=32, z_dim=8, n_labels=3, width=0.125)),
])
def test_get_config_round_trip(cls, kwargs):
    model = cls(**kwargs)
    config = model.get_config()
    assert {k: config[k] for k in kwargs} == kwargs
    clone = cls.from_config(config)
    assert clone.get_config() == config
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]
