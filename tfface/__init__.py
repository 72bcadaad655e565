"""tfface: face attribute manipulation in TensorFlow 2 / Keras 3.

Layout, in the order data flows:

- :mod:`tfface.data`        synthetic faces, CelebA, image folders -> tf.data
- :mod:`tfface.models`      the networks of both papers
- :mod:`tfface.losses`      one named function per loss in the papers
- :mod:`tfface.inference`   running trained networks on images (editors)
- :mod:`tfface.training`    Keras models with custom train_step, the shared loop, run directories
- :mod:`tfface.export`      SavedModel (TF Serving) and TFLite artifacts
- :mod:`tfface.evaluation`  metrics, the attribute classifier, face measures, reports
- :mod:`tfface.methods`     the method contract and the two papers' methods
- :mod:`tfface.photo`       editing faces in photos
- :mod:`tfface.cli`         the ``tfface`` command line

Shared by all: :mod:`tfface.settings`, :mod:`tfface.errors`, :mod:`tfface.files`,
:mod:`tfface.pictures`, :mod:`tfface.faces`.
"""

import os

# TensorFlow's C++ INFO/WARNING lines drown the progress lines; set before TensorFlow loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
