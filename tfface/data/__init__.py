"""Data: built-in synthetic faces, CelebA and image folders as tf.data pipelines.

- :mod:`tfface.data.spec`         the ``--data`` value (no TensorFlow)
- :mod:`tfface.data.synthetic`    procedural faces with counterfactual ground truth (NumPy only)
- :mod:`tfface.data.images`       robust decoding and bad-file accounting (Pillow only)
- :mod:`tfface.data.celeba`       CelebA's files, the residual paper's split, aligned landmarks
- :mod:`tfface.data.collections`  random-access image collections
- :mod:`tfface.data.pipeline`     deterministic tf.data streams over collections
- :mod:`tfface.data.sources`      what each method trains on (``load_domains``, ``load_labeled``)
"""
