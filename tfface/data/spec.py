"""The ``--data`` value, parsed once into a :class:`DataSpec` (no TensorFlow needed).

``--data`` is one of::

    synthetic                  built-in procedural faces (default, no download)
    celeba:/path/to/celeba     CelebA in the standard layout (see tfface.data.celeba)
    folders:/path/A,/path/B    two folders of images: A lacks the attribute, B has it
"""

from __future__ import annotations

from dataclasses import dataclass

DATA_FORMS = "synthetic, celeba:/path/to/celeba, folders:/path/to/A,/path/to/B"
DATA_KINDS = ("synthetic", "celeba", "folders")


@dataclass(frozen=True)
class DataSpec:
    kind: str
    paths: tuple = ()

    def __str__(self):
        if self.kind == "synthetic":
            return "synthetic"
        return f"{self.kind}:{','.join(self.paths)}"


def parse_data_flag(value: str) -> DataSpec:
    """Parse a ``--data`` value; ValueError with the valid forms otherwise."""
    value = (value or "").strip()
    kind, _, rest = value.partition(":")
    if kind == "synthetic" and not rest:
        return DataSpec("synthetic")
    if kind == "celeba" and rest:
        return DataSpec("celeba", (rest,))
    if kind == "folders":
        parts = tuple(p for p in rest.split(",") if p)
        if len(parts) == 2:
            return DataSpec("folders", parts)
        raise ValueError(f"--data=folders needs two comma-separated directories (folders:/path/A,/path/B), got {value!r}")
    raise ValueError(f"--data must be one of: {DATA_FORMS}; got {value!r}")
