"""Shared test setup: quiet TensorFlow, small sizes, the optional CelebA sample."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib

import pytest

# The CelebA sample lives outside the repository (its licence forbids
# copying it in); tests that use it skip when it is absent.
CELEBA_SAMPLE = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "celeba_sample"


@pytest.fixture
def celeba_sample():
    if not (CELEBA_SAMPLE / "list_attr_celeba.txt").is_file():
        pytest.skip(f"CelebA sample not present at {CELEBA_SAMPLE}")
    return CELEBA_SAMPLE
