"""Built-in synthetic faces: a deterministic procedural renderer with ground truth.

Every image is a pure function of ``(identity seed, attribute vector, size)``.
The identity seed fixes everything that is *not* an attribute (face shape,
skin tone, hair style and colour, eyes, brows, nose, mouth, glasses style,
background, lighting, pose jitter, sensor noise); the attribute vector
switches the layers listed in :data:`ATTRIBUTE_LAYERS`.  Hence for any face
the renderer can draw its **counterfactual** (same identity, one attribute
flipped) and the **mask** of the pixels that attribute may change.

The mask is defined by geometry, not by diffing the two renders: it is the
union, over both states, of the coverage of the layers the attribute
controls.  That a counterfactual differs from the original only inside this
mask is therefore a real property of the renderer (tested), and it is what
makes "PSNR outside the mask" a meaningful preservation score.

Shapes are signed-distance fields in a face-local frame (x right, y down,
the face roughly spans [-0.4, 0.4] x [-0.5, 0.5]); coverage is the analytic
anti-aliased ``clip(0.5 - d / pixel, 0, 1)``, whose support is finite, so
"coverage > 0" is an exact region.  Rendering is vectorised over the batch.
"""

from __future__ import annotations

import numpy as np

ATTRIBUTES = (
    "Eyeglasses",
    "Smiling",
    "Mouth_Slightly_Open",
    "No_Beard",
    "Male",
    "Young",
    "Bangs",
    "Blond_Hair",
)

# Probability that an attribute is 1 when attributes are sampled from a seed.
# Chosen so that every attribute has both values in a few hundred images;
# the No_Beard prior is conditional (beards are drawn mostly on men, as in
# CelebA, but not only, so the two stay separable).
DEFAULT_PRIORS = {
    "Eyeglasses": 0.35,
    "Smiling": 0.5,
    "Mouth_Slightly_Open": 0.45,
    "No_Beard": 0.7,
    "Male": 0.5,
    "Young": 0.65,
    "Bangs": 0.35,
    "Blond_Hair": 0.3,
}

# The layers each attribute switches.  An attribute's mask is the union of
# these layers' coverage in both states.  Keep in sync with _render_layers:
# a layer whose geometry or colour reads an attribute must be listed here.
ATTRIBUTE_LAYERS = {
    "Eyeglasses": ("glasses",),
    "Smiling": ("mouth", "smile_lines"),
    "Mouth_Slightly_Open": ("mouth",),
    "No_Beard": ("beard",),
    "Male": ("hair_back", "face", "beard", "brows", "mouth"),
    "Young": ("wrinkles", "hair_back", "hair_top", "bangs", "beard"),
    "Bangs": ("bangs",),
    "Blond_Hair": ("hair_back", "hair_top", "bangs", "beard"),
}

# Global attributes change large areas; local ones a part of the face.
LOCAL_ATTRIBUTES = ("Eyeglasses", "Smiling", "Mouth_Slightly_Open", "No_Beard", "Bangs")

_SKIN_TONES = np.array(
    [
        [0.96, 0.82, 0.71],
        [0.93, 0.76, 0.63],
        [0.86, 0.66, 0.52],
        [0.76, 0.56, 0.41],
        [0.62, 0.44, 0.31],
        [0.46, 0.32, 0.23],
        [0.34, 0.23, 0.17],
    ],
    np.float32,
)
_HAIR_DARK = np.array(
    [
        [0.07, 0.06, 0.06],
        [0.18, 0.12, 0.08],
        [0.30, 0.19, 0.11],
        [0.42, 0.26, 0.14],
        [0.48, 0.20, 0.10],
    ],
    np.float32,
)
_HAIR_BLOND = np.array(
    [[0.88, 0.74, 0.45], [0.93, 0.85, 0.62], [0.80, 0.64, 0.36]], np.float32
)
_IRIS = np.array(
    [[0.30, 0.18, 0.09], [0.20, 0.35, 0.55], [0.25, 0.40, 0.25], [0.45, 0.33, 0.15]],
    np.float32,
)
_FRAMES = np.array(
    [[0.05, 0.05, 0.05], [0.25, 0.14, 0.07], [0.75, 0.62, 0.30], [0.70, 0.72, 0.75], [0.55, 0.08, 0.10]],
    np.float32,
)
_GREY = np.array([0.72, 0.72, 0.72], np.float32)


def attribute_index(name: str) -> int:
    """Index of ``name`` in :data:`ATTRIBUTES`; ValueError listing valid names."""
    try:
        return ATTRIBUTES.index(name)
    except ValueError:
        raise ValueError(
            f"unknown synthetic attribute {name!r}; valid: {', '.join(ATTRIBUTES)}"
        ) from None


def sample_attributes(seeds, priors=None) -> np.ndarray:
    """Attribute vectors drawn deterministically from identity seeds.

    Returns int32 ``[N, len(ATTRIBUTES)]`` of 0/1.  Independent Bernoulli
    draws with ``priors``, except No_Beard, which is 1 for 90% of women and
    ``priors["No_Beard"]`` of men.
    """
    p = dict(DEFAULT_PRIORS)
    if priors:
        p.update(priors)
    seeds = np.asarray(seeds, np.int64).reshape(-1)
    out = np.zeros((seeds.size, len(ATTRIBUTES)), np.int32)
    for i, s in enumerate(seeds):
        u = np.random.default_rng([int(s), 0xA77]).random(len(ATTRIBUTES))
        row = u < np.array([p[a] for a in ATTRIBUTES])
        male = row[ATTRIBUTES.index("Male")]
        nb = ATTRIBUTES.index("No_Beard")
        row[nb] = u[nb] < (p["No_Beard"] if male else 0.9)
        out[i] = row
    return out


def _identity_params(seeds) -> dict:
    """Per-image identity parameters (everything that is not an attribute)."""
    rows = []
    for s in np.asarray(seeds, np.int64).reshape(-1):
        r = np.random.default_rng([int(s), 0x1D])
        u = r.uniform
        skin = _SKIN_TONES[r.integers(len(_SKIN_TONES))] * u(0.94, 1.06, 3)
        bg_hue = r.random(3)
        rows.append(
            dict(
                tx=u(-0.06, 0.06), ty=u(-0.03, 0.07), rot=u(-0.09, 0.09), scale=u(1.32, 1.48),
                a=u(0.35, 0.41), b=u(0.47, 0.53),
                skin=skin,
                hair=_HAIR_DARK[r.integers(len(_HAIR_DARK))] * u(0.85, 1.15, 3),
                blond=_HAIR_BLOND[r.integers(len(_HAIR_BLOND))] * u(0.92, 1.05, 3),
                hairline=u(-0.30, -0.22), part=u(-1.0, 1.0), volume=u(0.02, 0.07),
                long_len=u(0.45, 0.95), bangs_phase=u(0, 6.3), bangs_len=u(-0.01, 0.02),
                ex=u(0.145, 0.175), ey=u(-0.03, 0.01), eye_a=u(0.062, 0.078), eye_b=u(0.028, 0.036),
                iris=_IRIS[r.integers(len(_IRIS))] * u(0.9, 1.1, 3), gaze=u(-0.012, 0.012),
                brow_arch=u(0.01, 0.03), brow_gap=u(0.075, 0.1),
                ny=u(0.17, 0.22), nose_w=u(0.028, 0.04),
                my=u(0.33, 0.38), mw=u(0.105, 0.14), lip_u=u(0.016, 0.026), lip_l=u(0.02, 0.032),
                lip_tint=u(0.0, 1.0),
                beard_alpha=u(0.6, 0.97),
                glasses_round=float(r.random() < 0.45), lens_r=u(0.082, 0.098), frame_t=u(0.018, 0.03),
                frame=_FRAMES[r.integers(len(_FRAMES))], lens_alpha=u(0.1, 0.25) if r.random() < 0.75 else u(0.7, 0.9),
                bg0=0.25 + 0.6 * bg_hue, bg1=0.15 + 0.5 * r.random(3), bg_angle=u(0, 6.3),
                cloth=0.1 + 0.8 * r.random(3),
                light_x=u(-0.25, 0.25), light_y=u(-0.15, 0.1), tex_phase=u(0, 6.3, 2),
                noise_seed=int(r.integers(2**31)),
            )
        )
    out = {}
    for k in rows[0]:
        v = np.stack([np.asarray(row[k], np.float32) for row in rows]) if k != "noise_seed" else np.array([row[k] for row in rows])
        out[k] = v
    return out


def _col(p):
    """Per-image scalar -> broadcastable [B,1,1]; colour [B,3] -> [B,1,1,3]."""
    return p[:, None, None] if p.ndim == 1 else p[:, None, None, :]


def _ellipse(x, y, cx, cy, a, b):
    """Approximate signed distance to an axis-aligned ellipse."""
    dx, dy = (x - cx) / a, (y - cy) / b
    k = np.sqrt(dx * dx + dy * dy) + 1e-6
    g = np.sqrt((dx / a) ** 2 + (dy / b) ** 2) / k + 1e-6
    return (k - 1.0) / g


def _segment(x, y, x0, y0, x1, y1, r):
    """Signed distance to a capsule from (x0,y0) to (x1,y1) of radius r."""
    px, py = x - x0, y - y0
    vx, vy = x1 - x0, y1 - y0
    h = np.clip((px * vx + py * vy) / (vx * vx + vy * vy + 1e-9), 0.0, 1.0)
    return np.hypot(px - h * vx, py - h * vy) - r


def _box(x, y, cx, cy, hx, hy, rad):
    """Signed distance to a rounded box centred at (cx, cy)."""
    qx = np.abs(x - cx) - hx + rad
    qy = np.abs(y - cy) - hy + rad
    return np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - rad


def _over(img, alpha, color, dense=False):
    """Composite ``color`` over ``img`` (in place) with coverage ``alpha``.

    Most layers cover a small part of the frame, so only pixels with
    non-zero coverage are touched; ``dense`` (for layers that cover most of it)
    computes every pixel instead, which is faster there and the same image (where
    the coverage is 0 the sum adds 0).  ``color`` is [3], per-image [B,1,1,3]
    or per-pixel [B,H,W,3].
    """
    if dense:
        img += alpha[..., None] * (np.asarray(color, np.float32) - img)
        return img
    b, i, j = np.nonzero(alpha)
    if b.size == 0:
        return img
    color = np.asarray(color, np.float32)
    if color.ndim == 4:
        c = color[b, i, j] if color.shape[1] > 1 else color[b, 0, 0]
    else:
        c = color
    old = img[b, i, j]
    img[b, i, j] = old + alpha[b, i, j][:, None] * (c - old)
    return img


WINDOW_MARGIN = 3  # pixels around each small layer's window (see _window_finder)


def _window_finder(P, size, margin):
    """``window(x0, x1, y0, y1)`` -> the index ``(all images, rows, columns)`` of the smallest pixel box that holds,
    for every image of the batch, the face-local box ``[x0, x1] x [y0, y1]`` (bounds: numbers or per-image
    ``[B,1,1]`` parameters), widened by ``margin`` pixels.

    A layer drawn only inside the window of its shape's local box is the same image: coverage is non-zero
    only within half a pixel of a shape (module docstring), and the margin is :data:`WINDOW_MARGIN` pixels.
    Each pixel's arithmetic is unchanged, so the render is bitwise the same, while the small layers (eyes,
    brows, nose, mouth, glasses, lines) cost a fraction of the frame.
    """
    images = P["rot"].size

    def pixels(positions):
        lo, hi = int(np.floor(positions.min())) - margin, int(np.ceil(positions.max())) + margin + 1
        return slice(min(max(lo, 0), size), min(max(hi, 0), size))

    def window(x0, x1, y0, y1):
        x0, x1, y0, y1 = (np.broadcast_to(np.asarray(b, np.float64).reshape(-1), (images,)) for b in (x0, x1, y0, y1))
        col, row = _pixel_position(P, np.stack([x0, x1, x0, x1], -1), np.stack([y0, y0, y1, y1], -1), size)  # corners
        return slice(None), pixels(row), pixels(col)

    return window


def _pixel_position(P, x, y, size):
    """Face-local points ``x, y`` [B, K] -> pixel (column, row) [B, K] in each image of the batch: the inverse of
    the face-local frame of :func:`_render_layers` (``P``'s pose parameters hold one value per image)."""
    cos, sin = (np.reshape(f(P["rot"]), (-1, 1)) for f in (np.cos, np.sin))
    scale, tx, ty = (np.reshape(P[k], (-1, 1)) for k in ("scale", "tx", "ty"))
    x, y = x * scale, y * scale
    u = cos * x - sin * y + tx
    v = sin * x + cos * y + ty
    return (u + 1.0) * size / 2.0 - 0.5, (v + 1.0) * size / 2.0 - 0.5


def _render_layers(ident, attrs, size):
    """Composite all layers. Returns (float image [B,S,S,3] in [0,1], {layer: coverage})."""
    B = attrs.shape[0]
    A = {name: attrs[:, i].astype(np.float32)[:, None, None] for i, name in enumerate(ATTRIBUTES)}
    P = {k: (_col(v) if k != "noise_seed" else v) for k, v in ident.items()}

    c = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    u = np.broadcast_to(c[None, None, :], (B, size, size))
    v = np.broadcast_to(c[None, :, None], (B, size, size))
    cos, sin = np.cos(P["rot"]), np.sin(P["rot"])
    x = (cos * (u - P["tx"]) + sin * (v - P["ty"])) / P["scale"]
    y = (-sin * (u - P["tx"]) + cos * (v - P["ty"])) / P["scale"]
    px = 2.0 / (size * P["scale"])  # one pixel in face-local units
    window = _window_finder(P, size, WINDOW_MARGIN)

    def cov(d):
        return np.clip(0.5 - d / px, 0.0, 1.0)

    def full(W, values, outside=0.0):
        """A layer's coverage (or distance) over the whole frame from its window's."""
        out = np.full_like(x, outside)
        out[W] = values
        return out

    layers = {}
    male, young, blond = A["Male"], A["Young"], A["Blond_Hair"]
    a, b = P["a"], P["b"]
    skin = P["skin"]

    # Hair colour: identity base or blond, greyed with age.
    hair = P["hair"] + (P["blond"] - P["hair"]) * blond[..., None]
    hair = hair + (_GREY - hair) * (0.55 * (1.0 - young))[..., None]
    tex = 0.93 + 0.07 * np.sin(x * 70.0 + 5.0 * np.sin(y * 6.0 + P["tex_phase"][..., 0]))
    hair_px = hair * tex[..., None]

    # Background: two-colour linear gradient.
    t = 0.5 + 0.5 * (np.cos(P["bg_angle"]) * u + np.sin(P["bg_angle"]) * v) / np.sqrt(2.0)
    img = np.ascontiguousarray(P["bg0"] + (P["bg1"] - P["bg0"]) * t[..., None], np.float32)

    # Clothes and neck (identity only).
    W = window(-0.85, 0.85, 0.65, 1.65)
    _over(img[W], cov(_ellipse(x[W], y[W], 0.0, 1.15, 0.85, 0.5)), P["cloth"])
    W = window(-0.17, 0.17, 0.30, 1.20)
    _over(img[W], cov(_box(x[W], y[W], 0.0, 0.75, 0.17, 0.45, 0.05)), skin * 0.82)

    # Ears: placed from the identity's face width (not the jaw), so Male
    # does not move them.
    W = window(-a * 0.97 - 0.055, a * 0.97 + 0.055, -0.08, 0.12)
    xw, yw = x[W], y[W]
    d_ears = np.minimum(_ellipse(xw, yw, -a * 0.97, 0.02, 0.055, 0.1), _ellipse(xw, yw, a * 0.97, 0.02, 0.055, 0.1))
    _over(img[W], cov(d_ears), skin * 0.9)

    # Hair behind the head: long for women, a short cap for men.
    d_long = np.minimum(
        _ellipse(x, y, 0.0, -0.04, a + 0.08 + P["volume"], b + 0.06),
        _box(x, y, 0.0, (P["long_len"] - 0.15) / 2.0, a + 0.07 + P["volume"], (P["long_len"] + 0.15) / 2.0, 0.12),
    )
    d_short = np.maximum(_ellipse(x, y, 0.0, -0.03, a + 0.03 + 0.4 * P["volume"], b + 0.035), y + 0.06)
    d_back = np.where(male > 0.5, d_short, d_long)
    layers["hair_back"] = cov(d_back)
    img = _over(img, layers["hair_back"], hair_px * 0.8, dense=True)

    # Face: an egg whose jaw is wider (less taper) for men.
    taper = 0.20 - 0.13 * male
    W = window(-a, a, -b, b)
    xw, yw = x[W], y[W]
    aeff = a * (1.0 - taper * np.clip(yw / b, 0.0, 1.0) ** 2)
    d_face = full(W, _ellipse(xw, yw, 0.0, 0.0, aeff, b), outside=1.0)
    layers["face"] = full(W, cov(d_face[W]))
    kx, ky = xw / aeff, yw / b
    nz = np.sqrt(np.clip(1.0 - kx * kx - ky * ky, 0.0, 1.0))
    shade = (0.8 + 0.2 * np.sqrt(nz)) * (1.0 + 0.15 * P["light_x"] * kx)
    _over(img[W], layers["face"][W], skin * shade[..., None], dense=True)

    # Wrinkles (old faces): forehead lines, crow's feet, under-eye arcs.
    ex, ey = P["ex"], P["ey"]
    w = 0.007
    W = window(-0.34, 0.34, ey - 0.32, ey + 0.08)
    xw, yw = x[W], y[W]
    d_w = np.full_like(xw, 1.0)
    for k, y0 in enumerate((-0.3, -0.245, -0.19)):
        d_w = np.minimum(d_w, np.maximum(np.abs(yw - (y0 + ey + 0.05 * (xw / a) ** 2)) - w, np.abs(xw) - (0.17 - 0.03 * k)))
    for sgn in (-1.0, 1.0):
        cx = sgn * (ex + P["eye_a"] + 0.02)
        for dy in (-0.025, 0.0, 0.025):
            d_w = np.minimum(d_w, _segment(xw, yw, cx, ey + dy * 0.4, cx + sgn * 0.045, ey + dy * 1.6, w * 0.8))
        d_w = np.minimum(d_w, np.maximum(np.abs(np.hypot(xw - sgn * ex, yw - ey + 0.01) - 0.07) - w * 0.8,
                                         np.maximum(ey + 0.035 - yw, np.abs(xw - sgn * ex) - 0.05)))
    layers["wrinkles"] = full(W, cov(d_w) * 0.6 * (1.0 - young))
    _over(img[W], layers["wrinkles"][W], skin * 0.6)

    # Smile lines (nasolabial folds) appear when smiling.
    smile, opened = A["Smiling"], A["Mouth_Slightly_Open"]
    my, mw0 = P["my"], P["mw"]
    mw = mw0 * (1.0 + 0.15 * smile)
    W = window(-mw - 0.22, mw + 0.22, P["ny"] - 0.01, my + 0.04)
    xw, yw = x[W], y[W]
    d_sl = np.full_like(xw, 1.0)
    for sgn in (-1.0, 1.0):
        d_sl = np.minimum(d_sl, np.maximum(
            np.abs(np.hypot(xw - sgn * (mw + 0.09), yw - (my - 0.02)) - 0.12) - w,
            np.maximum(P["ny"] - yw, yw - (my + 0.03))))
    layers["smile_lines"] = full(W, cov(d_sl) * 0.7 * smile)
    _over(img[W], layers["smile_lines"][W], skin * 0.68)

    # Beard: lower face (clipped to the face, so it follows the jaw) plus a
    # moustache band.
    W = window(-a, a, my - 0.46, b)
    xw, yw = x[W], y[W]
    d_beard_region = np.minimum(
        my - 0.085 - 0.36 * (xw / a) ** 2 - yw,
        _box(xw, yw, 0.0, my - 0.045, mw0 + 0.03, 0.028, 0.02),
    )
    d_beard = np.maximum(d_face[W], d_beard_region)
    beard_tex = 0.8 + 0.2 * np.sin(xw * 140.0 + P["tex_phase"][..., 1]) * np.sin(yw * 150.0)
    layers["beard"] = full(W, cov(d_beard) * P["beard_alpha"] * (1.0 - A["No_Beard"]))
    _over(img[W], layers["beard"][W], hair * 0.75 * beard_tex[..., None])

    # Nose: nostrils and a soft shadow on the side away from the light.
    ny, nw = P["ny"], P["nose_w"]
    side = -np.sign(P["light_x"] + 1e-3)
    W = window(-0.07, 0.07, ey + 0.03, ny + 0.04)
    xw, yw, iw = x[W], y[W], img[W]
    d_nose = np.minimum(_ellipse(xw, yw, -nw, ny + 0.02, 0.016, 0.009), _ellipse(xw, yw, nw, ny + 0.02, 0.016, 0.009))
    _over(iw, cov(_segment(xw, yw, side * 0.03, ey + 0.05, side * nw * 1.1, ny, 0.008)) * 0.35, skin * 0.7)
    _over(iw, cov(_ellipse(xw, yw, 0.0, ny + 0.005, nw * 1.3, 0.028)) * 0.25, skin * 0.8)
    _over(iw, cov(d_nose), skin * 0.35)

    # Mouth: lips around a centre line that curves up when smiling and an
    # opening (dark interior with teeth) when the mouth is open.
    W = window(-mw, mw, my - 0.08, my + 0.12)
    xw, yw, iw = x[W], y[W], img[W]
    tt = np.clip(xw / mw, -1.0, 1.0)
    bell = 1.0 - tt * tt
    yc = my + smile * (0.012 - 0.05 * tt * tt)
    gap = (0.05 + 0.012 * smile) * opened * bell
    hu = P["lip_u"] * bell ** 0.6 + 0.003
    hl = P["lip_l"] * bell ** 0.6 + 0.003
    edge = np.abs(xw) - mw
    d_upper = np.maximum(np.maximum(yc - hu - yw, yw - yc), edge)
    d_inner = np.maximum(np.maximum(yc - yw, yw - (yc + gap)), edge)
    d_lower = np.maximum(np.maximum(yc + gap - yw, yw - (yc + gap + hl)), edge)
    lips_f = skin * 0.55 + np.array([0.35, 0.08, 0.1], np.float32) + P["lip_tint"][..., None] * 0.08
    lips_m = skin * 0.8 + np.array([0.1, 0.0, 0.0], np.float32)
    lips = lips_m + (lips_f - lips_m) * (1.0 - male)[..., None]
    d_mouth = np.minimum(np.minimum(d_upper, d_lower), d_inner)
    layers["mouth"] = full(W, cov(d_mouth))
    _over(iw, cov(np.minimum(d_upper, d_lower)), lips)
    _over(iw, cov(d_inner), np.array([0.22, 0.05, 0.06], np.float32))
    d_teeth = np.maximum(np.maximum(d_inner, yw - (yc + np.minimum(gap, 0.022))), np.abs(xw) - 0.7 * mw)
    _over(iw, cov(d_teeth), np.array([0.93, 0.9, 0.84], np.float32))
    _over(iw, cov(np.maximum(np.abs(yw - yc) - 0.0025, edge)) * (1.0 - opened), lips * 0.55)

    # Eyes: sclera, iris, pupil, highlight and upper lid.
    for sgn in (-1.0, 1.0):
        cx = sgn * ex
        W = window(cx - P["eye_a"] - 0.01, cx + P["eye_a"] + 0.01, ey - P["eye_b"] - 0.01, ey + P["eye_b"] + 0.01)
        xw, yw, iw = x[W], y[W], img[W]
        d_eye = _ellipse(xw, yw, cx, ey, P["eye_a"], P["eye_b"])
        sclera = cov(d_eye)
        _over(iw, sclera, np.array([0.95, 0.94, 0.92], np.float32))
        ir = P["eye_b"] * 0.98
        _over(iw, np.minimum(cov(np.hypot(xw - cx - P["gaze"], yw - ey) - ir), sclera), P["iris"])
        _over(iw, np.minimum(cov(np.hypot(xw - cx - P["gaze"], yw - ey) - ir * 0.45), sclera), np.zeros(3, np.float32))
        _over(iw, cov(np.hypot(xw - cx - P["gaze"] - ir * 0.35, yw - ey + ir * 0.35) - 0.007) * sclera, np.ones(3, np.float32))
        d_lid = np.maximum(np.abs(d_eye) - 0.006, yw - ey)
        _over(iw, cov(d_lid), skin * 0.25)

    # Brows: thicker for men, coloured from the identity's natural hair.
    brow_y = ey - P["brow_gap"]
    W = window(-ex - 0.09, ex + 0.09, brow_y - 0.06, brow_y + 0.06)
    xw, yw = x[W], y[W]
    d_brows = np.full_like(xw, 1.0)
    thick = 0.009 + 0.009 * male
    for sgn in (-1.0, 1.0):
        q = (xw - sgn * ex) / 0.085
        yb = brow_y + P["brow_arch"] * q * q - P["brow_arch"] * 0.5 - 0.01 * sgn * q
        d_brows = np.minimum(d_brows, np.maximum(np.abs(yw - yb) - thick * (1.0 - 0.4 * np.clip(sgn * q, 0, 1)), np.abs(q) * 0.085 - 0.085))
    layers["brows"] = full(W, cov(d_brows))
    _over(img[W], layers["brows"][W], P["hair"] * 0.7)

    # Hair on top of the forehead, with a side part.
    W = window(-a - 0.07, a + 0.07, -b - 0.06, 0.15)  # the hairline stays above y = 0.12 inside the ellipse
    xw, yw = x[W], y[W]
    xa = xw / a
    hl_y = P["hairline"] + 0.2 * xa * xa + 0.05 * P["part"] * xa
    d_top = np.maximum(_ellipse(xw, yw, 0.0, -0.01, a + 0.035 + 0.4 * P["volume"], b + 0.04), yw - hl_y)
    layers["hair_top"] = full(W, cov(d_top))
    _over(img[W], layers["hair_top"][W], hair_px[W], dense=True)

    # Bangs: a jagged fringe down to just above the brows.
    W = window(-a - 0.04, a + 0.04, -b - 0.06, brow_y)
    xw, yw = x[W], y[W]
    fringe = brow_y - 0.04 + P["bangs_len"] + 0.012 * np.sin(xw * 45.0 + P["bangs_phase"])
    d_bangs = np.maximum(_ellipse(xw, yw, 0.0, -0.01, a + 0.03, b + 0.04), yw - fringe)
    layers["bangs"] = full(W, cov(d_bangs) * A["Bangs"])
    _over(img[W], layers["bangs"][W], hair_px[W] * 0.92)

    # Glasses: tinted lenses, frames, bridge and temples.
    r = P["lens_r"]
    ft = P["frame_t"]
    reach = np.maximum(ex + r * 1.12, a + 0.01) + 0.02
    W = window(-reach, reach, ey - r - 0.04, ey + r + 0.03)
    xw, yw, iw = x[W], y[W], img[W]
    d_lens = np.full_like(xw, 1.0)
    for sgn in (-1.0, 1.0):
        round_d = np.hypot(xw - sgn * ex, yw - ey - 0.005) - r
        rect_d = _box(xw, yw, sgn * ex, ey + 0.005, r * 1.12, r * 0.75, 0.03)
        d_lens = np.minimum(d_lens, np.where(P["glasses_round"] > 0.5, round_d, rect_d))
    d_frame = np.abs(d_lens) - ft * 0.5
    hx = np.where(P["glasses_round"] > 0.5, r, r * 1.12)
    d_frame = np.minimum(d_frame, _segment(xw, yw, -ex + hx, ey - 0.01, ex - hx, ey - 0.01, ft * 0.5))
    for sgn in (-1.0, 1.0):
        d_frame = np.minimum(d_frame, _segment(xw, yw, sgn * (ex + hx), ey - 0.01, sgn * (a + 0.01), ey - 0.02, ft * 0.45))
    g = A["Eyeglasses"]
    lens_cov = cov(d_lens) * g
    frame_cov = cov(d_frame) * g
    layers["glasses"] = full(W, np.maximum(lens_cov, frame_cov))
    _over(iw, lens_cov * P["lens_alpha"], np.array([0.08, 0.09, 0.12], np.float32))
    glint = cov(np.abs((xw - ex) + (yw - ey) * 0.9 - 0.02) - 0.006) * lens_cov * 0.35
    _over(iw, glint, np.ones(3, np.float32))
    _over(iw, frame_cov, P["frame"])

    # Lighting and sensor noise (identity only).
    img = img * (1.0 + P["light_x"] * u * 0.5 + P["light_y"] * v * 0.5)[..., None]
    noise = np.stack([np.random.default_rng(int(s)).standard_normal((size, size, 3), np.float32) for s in P["noise_seed"]])
    img = img + 0.012 * noise
    return np.clip(img, 0.0, 1.0), layers


def _check(seeds, attrs, size):
    seeds = np.asarray(seeds, np.int64).reshape(-1)
    attrs = np.asarray(attrs).reshape(seeds.size, -1)
    if attrs.shape[1] != len(ATTRIBUTES):
        raise ValueError(f"attribute vectors need {len(ATTRIBUTES)} entries ({', '.join(ATTRIBUTES)}), got {attrs.shape[1]}")
    if not np.isin(attrs, (0, 1)).all():
        raise ValueError("attribute values must be 0 or 1")
    if int(size) < 16:
        raise ValueError(f"synthetic faces need size >= 16, got {size}")
    return seeds, attrs.astype(np.int32), int(size)


def _to_uint8(img):
    return np.round(img * 255.0).astype(np.uint8)


def render(seeds, attrs, size: int = 64) -> np.ndarray:
    """Render faces. ``seeds`` [N] ints, ``attrs`` [N, 8] of 0/1 -> uint8 [N, size, size, 3]."""
    seeds, attrs, size = _check(seeds, attrs, size)
    img, _ = _render_layers(_identity_params(seeds), attrs, size)
    return _to_uint8(img)


def counterfactual(seeds, attrs, attribute: str, size: int = 64):
    """The same identities with ``attribute`` flipped, and where it changes pixels.

    Returns ``(original uint8 [N,S,S,3], counterfactual uint8 [N,S,S,3],
    mask bool [N,S,S])``.  The mask is the union of the attribute's layers'
    coverage in both states (see :data:`ATTRIBUTE_LAYERS`).
    """
    seeds, attrs, size = _check(seeds, attrs, size)
    k = attribute_index(attribute)
    flipped = attrs.copy()
    flipped[:, k] = 1 - flipped[:, k]
    ident = _identity_params(seeds)
    img0, layers0 = _render_layers(ident, attrs, size)
    img1, layers1 = _render_layers(ident, flipped, size)
    mask = np.zeros(img0.shape[:3], bool)
    for name in ATTRIBUTE_LAYERS[attribute]:
        mask |= (layers0[name] > 0) | (layers1[name] > 0)
    return _to_uint8(img0), _to_uint8(img1), mask


LANDMARKS = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")


def landmarks(seeds, attrs, size: int = 64) -> np.ndarray:
    """Exact 5-point landmarks in pixel (x, y), CelebA's order: [N, 5, 2].

    Left/right are as seen in the image.  Eyes are the eye centres, the nose
    point is the nose tip, mouth points are the corners (which move with
    Smiling).  Ground truth for the landmark experiment (residual paper,
    Table 2).
    """
    seeds, attrs, size = _check(seeds, attrs, size)
    P = _identity_params(seeds)
    smile = attrs[:, ATTRIBUTES.index("Smiling")].astype(np.float32)
    ex, ey, ny, my = P["ex"], P["ey"], P["ny"], P["my"]
    mw = P["mw"] * (1.0 + 0.15 * smile)
    # The mouth corners sit on the lip centre line at t = +-1.
    yc = my + smile * (0.012 - 0.05)
    local = np.stack([
        np.stack([-ex, ey], -1), np.stack([ex, ey], -1), np.stack([np.zeros_like(ny), ny + 0.005], -1),
        np.stack([-mw, yc], -1), np.stack([mw, yc], -1),
    ], axis=1)  # [N, 5, 2] face-local
    return np.stack(_pixel_position(P, local[..., 0], local[..., 1], size), axis=-1)
