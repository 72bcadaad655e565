"""tfface: face attribute manipulation in TensorFlow 2 / Keras 3.

Layout, in the order data flows:

- :mod:`tfface.data`      synthetic faces, CelebA, image folders -> tf.data
- :mod:`tfface.models`    the networks of both papers
- :mod:`tfface.losses`    one named function per loss in the papers
- :mod:`tfface.training`  Keras models with custom train_step, run directories
- :mod:`tfface.export`    SavedModel (TF Serving) and TFLite artifacts
- :mod:`tfface.evaluation` metrics and reports
"""

__version__ = "0.1.0"
