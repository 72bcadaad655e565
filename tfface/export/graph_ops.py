"""TensorFlow ops used inside exported graphs: validated decoding, cropping, PNG encoding.

These run inside SavedModels served by TF Serving, so they only use core TF
ops, and bad input raises ``InvalidArgumentError`` with a clear message
instead of crashing or decoding a decompression bomb.
"""

from __future__ import annotations

import tensorflow as tf

# Refuse to decode images with more pixels than this (about 8000 x 8000).
MAX_PIXELS = 64_000_000


def _uint(data, offset, n, big_endian=False):
    """Unsigned integer of ``n`` bytes at ``offset`` (callers check the length first)."""
    b = tf.cast(tf.io.decode_raw(tf.strings.substr(data, offset, n), tf.uint8), tf.int64)
    b = b if big_endian else tf.reverse(b, [0])
    return tf.reduce_sum(b * tf.constant([256 ** (n - 1 - i) for i in range(n)], tf.int64))


def _starts(data, prefix, offset=0):
    return tf.strings.substr(data, offset, len(prefix)) == prefix


def _bmp_height(data):
    h = _uint(data, 22, 4)
    return tf.where(h >= 2 ** 31, 2 ** 32 - h, h)  # negative: a top-down bitmap


def _webp_shape(data):
    """VP8 (lossy), VP8L (lossless) and VP8X (extended) headers of a RIFF WebP file."""
    lossless = _uint(data, 21, 4)
    return tf.case([
        (_starts(data, b"VP8 ", 12), lambda: tf.stack([_uint(data, 28, 2) % 16384, _uint(data, 26, 2) % 16384])),
        (_starts(data, b"VP8L", 12), lambda: tf.stack([(lossless // 16384) % 16384 + 1, lossless % 16384 + 1])),
        (_starts(data, b"VP8X", 12), lambda: tf.stack([_uint(data, 27, 3) + 1, _uint(data, 24, 3) + 1])),
    ], default=lambda: tf.constant([-1, -1], tf.int64))


def header_shape(data):
    """(height, width) read from the header without decoding: JPEG, PNG, GIF, BMP, WebP; (-1, -1) for
    anything else (e.g. JPEG XL), which is refused rather than decoded blind."""
    n = tf.strings.length(data)
    return tf.case([
        (_starts(data, b"\xff\xd8"), lambda: tf.cast(tf.io.extract_jpeg_shape(data)[:2], tf.int64)),
        (tf.logical_and(n >= 24, _starts(data, b"\x89PNG\r\n\x1a\n")),
         lambda: tf.stack([_uint(data, 20, 4, True), _uint(data, 16, 4, True)])),
        (tf.logical_and(n >= 10, _starts(data, b"GIF8")), lambda: tf.stack([_uint(data, 8, 2), _uint(data, 6, 2)])),
        (tf.logical_and(n >= 26, _starts(data, b"BM")), lambda: tf.stack([_bmp_height(data), _uint(data, 18, 4)])),
        (tf.logical_and(n >= 30, tf.logical_and(_starts(data, b"RIFF"), _starts(data, b"WEBP", 8))),
         lambda: _webp_shape(data)),
    ], default=lambda: tf.constant([-1, -1], tf.int64))


def decode(data, max_pixels=MAX_PIXELS):
    """Encoded image bytes (JPEG, PNG, GIF, BMP, WebP) -> float32 [H, W, 3] in [0, 1], validated
    (the size is checked from the header before any pixel is decoded)."""
    # Asserts have no data dependency on the decoder: order them explicitly,
    # so an oversized image is refused *before* it is decoded.
    not_empty = tf.debugging.assert_greater(tf.strings.length(data), 0, message="image bytes are empty")
    with tf.control_dependencies([not_empty]):
        hw = header_shape(data)
        known = tf.debugging.assert_non_negative(
            hw, message="unsupported image format: JPEG, PNG, GIF, BMP and WebP are accepted")
    with tf.control_dependencies([known]):
        small = tf.debugging.assert_less_equal(hw[0] * hw[1], tf.cast(max_pixels, tf.int64),
                                               message=f"image has more than {max_pixels} pixels")
    with tf.control_dependencies([small]):
        img = tf.io.decode_image(data, channels=3, expand_animations=False, dtype=tf.uint8)
    shape = tf.shape(img, out_type=tf.int64)
    decoded_small = tf.debugging.assert_less_equal(shape[0] * shape[1], tf.cast(max_pixels, tf.int64),
                                                   message=f"image has more than {max_pixels} pixels")
    with tf.control_dependencies([decoded_small]):
        img = tf.identity(img)
    img.set_shape([None, None, 3])
    return tf.cast(img, tf.float32) / 255.0


def center_crop_resize(img, size, crop=None):
    """Centre square of side min(crop, h, w) (crop None: min(h, w)), resized to ``size`` (area-averaged)."""
    h, w = tf.shape(img)[0], tf.shape(img)[1]
    side = tf.minimum(h, w) if crop is None else tf.minimum(tf.minimum(h, w), crop)
    top, left = (h - side) // 2, (w - side) // 2
    img = img[top:top + side, left:left + side]
    img = tf.image.resize(img[None], [size, size], method="area", antialias=True)[0]
    return tf.clip_by_value(img, 0.0, 1.0)


def decode_batch(images, size, crop=None, max_pixels=MAX_PIXELS):
    """string [N] -> float32 [N, size, size, 3] in [0, 1]."""
    tf.debugging.assert_rank(images, 1, message="images must be a 1-D batch of encoded image strings")
    return tf.map_fn(lambda b: center_crop_resize(decode(b, max_pixels), size, crop), images,
                     fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))


def encode_png_batch(images):
    """float [N, H, W, 3] in [0, 1] -> PNG bytes [N]."""
    u8 = tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0), tf.uint8)
    return tf.map_fn(tf.io.encode_png, u8, fn_output_signature=tf.TensorSpec([], tf.string))


def check_strength(strength, images):
    """Validate ``strength`` [N]: finite, one value per image."""
    strength = tf.debugging.assert_all_finite(strength, "strength must be a finite number")
    tf.debugging.assert_equal(tf.shape(strength)[0], tf.shape(images)[0],
                              message="strength must have one value per image")
    return strength


def check_float_images(images, size):
    """Validate a float image batch [N, size, size, 3]."""
    tf.debugging.assert_rank(images, 4, message="images must be [N, height, width, 3]")
    s = tf.shape(images)
    tf.debugging.assert_equal(s[1:], tf.constant([size, size, 3]), message=f"images must be [N, {size}, {size}, 3]")
    return images
