"""SavedModels for TF Serving, built with ``keras.export.ExportArchive``.

Residual editor signatures (one image size S, images cropped like the training data):

=================  ===========================================  ==========================================
signature          inputs                                       outputs
=================  ===========================================  ==========================================
serving_default    images: string [N] (JPEG/PNG/GIF/BMP bytes)  edited_png_bytes: string [N], edited: float32
                                                                [N,S,S,3] in [0,1], residual: float32
                                                                [N,S,S,3], unscaled (edited =
                                                                clip(image + strength * residual))
add, remove        images: string [N], strength: float32 [N]    as above; strength scales the residual
add_tensor,        images: float32 [N,S,S,3] in [0,1],          edited, residual (the TFLite source)
remove_tensor      strength: float32 [N]
=================  ===========================================  ==========================================

``serving_default`` adds the attribute at strength 1.  Iterative GAN
signatures: ``serving_default``/``transform`` (images, attributes [N,K]:
1 = set, 0 = clear, -1 = keep what the model recognises), ``recognize``
(images -> probabilities [N,K]), ``generate`` (z [N,z_dim], attributes),
and ``transform_tensor``/``recognize_tensor`` with float images.

PNG outputs are named ``*_png_bytes``: TF Serving's REST API returns string
outputs whose names end in ``_bytes`` as ``{"b64": ...}``, and accepts
``{"b64": ...}`` for string inputs.

Bad input (wrong rank or size, undecodable bytes, more than 64 megapixels)
fails with InvalidArgumentError and a message; the server keeps running.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from tfface import files
from tfface.data.celeba import CROP as CELEBA_CROP
from tfface.export import graph_ops as ops
from tfface.export.folding import fold_batch_norm

METADATA = "assets.extra/tfface.json"


def crop_for(settings):
    """The centre-crop side used for the training data (CelebA: 178; others: the whole short side)."""
    return CELEBA_CROP if settings.data_spec.kind == "celeba" else None


def _float_spec(size, name="images"):
    return tf.TensorSpec([None, size, size, 3], tf.float32, name=name)


def residual_archive(model, settings):
    """The editor's signatures. The generators are exported with each batch norm folded into the
    convolution before it (:mod:`tfface.export.folding`: the same edit, 1.06-1.19x faster here); D is
    not exported."""
    size, crop = settings.image_size, crop_for(settings)
    archive = keras.export.ExportArchive()
    g0, g1 = fold_batch_norm(model.g0), fold_batch_norm(model.g1)
    archive.track(g0)
    archive.track(g1)

    def edit(generator, images, strength):
        images = ops.check_float_images(images, size)
        strength = ops.check_strength(strength, images)
        x = images * 2.0 - 1.0
        # An empty batch returns empty outputs (batchnorm kernels reject a zero-size batch).
        residual = tf.cond(tf.shape(x)[0] > 0, lambda: (tf.cast(generator(x, training=False), tf.float32) - x) / 2.0,
                           lambda: tf.zeros_like(x))
        edited = tf.clip_by_value(images + tf.reshape(strength, [-1, 1, 1, 1]) * residual, 0.0, 1.0)
        return {"edited": edited, "residual": residual}

    def edit_bytes(generator, images, strength):
        out = edit(generator, ops.decode_batch(images, size, crop), strength)
        out["edited_png_bytes"] = ops.encode_png_batch(out["edited"])
        return out

    strings = tf.TensorSpec([None], tf.string, name="images")
    strength = tf.TensorSpec([None], tf.float32, name="strength")
    def tensor_endpoint(generator):
        def fn(images, strength):
            return edit(generator, images, strength)
        return fn

    def bytes_endpoint(generator):
        def fn(images, strength):
            return edit_bytes(generator, images, strength)
        return fn

    def default_endpoint(images):
        return edit_bytes(g0, images, tf.ones(tf.shape(images), tf.float32))

    for name, g in (("add", g0), ("remove", g1)):
        archive.add_endpoint(f"{name}_tensor", tensor_endpoint(g), input_signature=[_float_spec(size), strength])
        archive.add_endpoint(name, bytes_endpoint(g), input_signature=[strings, strength])
    archive.add_endpoint("serving_default", default_endpoint, input_signature=[strings])
    return archive


def iterative_archive(model, settings, attribute_names):
    size, crop, k = settings.image_size, crop_for(settings), len(attribute_names)
    archive = keras.export.ExportArchive()
    archive.track(model)

    def recognize(images):
        images = ops.check_float_images(images, size)
        z, logits = model.encode(images * 2.0 - 1.0, training=False)
        return z, tf.sigmoid(tf.cast(logits, tf.float32))

    def generate(z, attributes):
        img = model.g([z, tf.clip_by_value(attributes, 0.0, 1.0)], training=False)
        return (tf.cast(img, tf.float32) + 1.0) / 2.0

    def transform(images, attributes):
        z, probs = recognize(images)
        tf.debugging.assert_equal(tf.shape(attributes), tf.shape(probs), message=f"attributes must be [N, {k}]")
        target = tf.where(attributes < 0.0, probs, attributes)
        image = generate(z, target)
        return {"image": image, "probabilities": probs}

    strings = tf.TensorSpec([None], tf.string, name="images")
    attrs = tf.TensorSpec([None, k], tf.float32, name="attributes")

    def transform_bytes(images, attributes):
        out = transform(ops.decode_batch(images, size, crop), attributes)
        out["image_png_bytes"] = ops.encode_png_batch(out["image"])
        return out

    def recognize_tensor(images):
        return {"probabilities": recognize(images)[1]}

    def recognize_bytes(images):
        return {"probabilities": recognize(ops.decode_batch(images, size, crop))[1]}

    def generate_bytes(z, attributes):
        image = generate(z, attributes)
        return {"image": image, "image_png_bytes": ops.encode_png_batch(image)}

    archive.add_endpoint("transform_tensor", transform, input_signature=[_float_spec(size), attrs])
    archive.add_endpoint("recognize_tensor", recognize_tensor, input_signature=[_float_spec(size)])
    archive.add_endpoint("transform", transform_bytes, input_signature=[strings, attrs])
    archive.add_endpoint("serving_default", transform_bytes, input_signature=[strings, attrs])
    archive.add_endpoint("recognize", recognize_bytes, input_signature=[strings])

    archive.add_endpoint("generate", generate_bytes,
                         input_signature=[tf.TensorSpec([None, model.z_dim], tf.float32, name="z"), attrs])
    return archive


def write(archive, path, metadata):
    """Write the SavedModel and its metadata (assets.extra/tfface.json, ignored by TF Serving)."""
    archive.write_out(path, verbose=False)
    meta_path = os.path.join(path, METADATA)
    os.makedirs(os.path.dirname(meta_path), exist_ok=True)
    files.write_json(meta_path, metadata)


def read_metadata(path):
    with open(os.path.join(path, METADATA)) as f:
        return json.load(f)
