"""Data: built-in synthetic faces, CelebA and image folders as tf.data pipelines.

The renderer (:mod:`tfface.data.synthetic`) and image reading
(:mod:`tfface.data.images`) do not need TensorFlow; the dataset builders
below import it on first use.
"""

__all__ = ["DATA_FORMS", "DataSpec", "DomainData", "LabeledData", "load_domains", "load_labeled", "parse_data_flag"]


def __getattr__(name):
    if name in __all__:
        from tfface.data import sources

        return getattr(sources, name)
    raise AttributeError(f"module 'tfface.data' has no attribute {name!r}")
