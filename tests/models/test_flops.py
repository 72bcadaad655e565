import pytest

from tfface.models import iterative, residual
from tfface.models.flops import forward_flops


def test_the_residual_papers_networks_at_128_px():
    # The paper's G at 128x128: 7.2 GFLOP per image (forward), convolutions only.
    assert forward_flops(residual.transformation_network(128, width=1.0)) == pytest.approx(7.24e9, rel=0.01)
    # D's convolutions count the same whether they are normalised by batch norm or wrapped in spectral norm.
    batch, spectral = (forward_flops(residual.discriminator(128, width=1.0, norm=n)) for n in ("batch", "spectral"))
    assert batch == spectral == pytest.approx(1.10e9, rel=0.01)


def test_the_iterative_gans_networks_at_128_px():
    # G's four 5x5 stride-2 transposed convolutions (512 -> 256 -> 128 -> 64 -> 3 from 8x8) and the projection;
    # D's four 5x5 stride-2 convolutions and its two dense heads on the 8x8x512 map.
    g = forward_flops(iterative.generator(128, z_dim=100, n_labels=10, width=1.0))
    d = forward_flops(iterative.discriminator(128, width=1.0))
    deconv = 2 * 25 * (512 * 256 * 8 * 8 + 256 * 128 * 16 * 16 + 128 * 64 * 32 * 32 + 64 * 3 * 64 * 64)
    assert g == deconv + 2 * 110 * 8 * 8 * 512
    conv = 2 * 25 * (3 * 64 * 64 * 64 + 64 * 128 * 32 * 32 + 128 * 256 * 16 * 16 + 256 * 512 * 8 * 8)
    assert d == conv + 2 * 8 * 8 * 512 * (1 + 1024)


def test_fused_upsampling_counts_as_written_or_as_run():
    fused = residual.transformation_network(128, width=1.0)
    separate = residual.transformation_network(128, width=1.0, fused=False)
    assert forward_flops(fused) == forward_flops(separate) == forward_flops(separate, executed=True)
    # blocks 4 and 5 (2/3 of G's work) run 16 of their 36 multiply-adds, over the input padded by one pixel
    assert forward_flops(fused, executed=True) == pytest.approx(4.65e9, rel=0.01)
