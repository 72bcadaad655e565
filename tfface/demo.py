"""A web page to edit your photo: ``tfface demo``, a local Gradio app on the bundled editors (or any export).

    pip install -e ".[cpu,faces,demo]"
    tfface demo                          # http://127.0.0.1:7860, the bundled editors
    tfface demo --model export/m/1       # an exported residual editor (SavedModel or .tflite)

Upload a photo or take one with the webcam, pick edits (add or remove each attribute, one strength each),
and compare before and after with the slider; the download is the full-resolution result.  Every face
found is edited (the same detection, alignment and paste-back as ``tfface edit``); a toggle draws the
detected face boxes on the preview.  It runs offline: no CDN, web fonts, analytics or share links.

:func:`build_app` returns the ``gr.Blocks`` app, to mount in your own FastAPI service
(``gr.mount_gradio_app(fastapi_app, build_app(), path="/edit")``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid

import numpy as np
from PIL import Image, ImageDraw

from tfface import editors, files, photo, pretrained
from tfface.pretrained import building
from tfface.data.images import DEFAULT_MAX_PIXELS, load_image
from tfface.errors import DataError, UsageError
from tfface.faces import detect_faces

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before Gradio reads it
try:  # optional: the "demo" extra
    import gradio as gr
except ImportError:  # pragma: no cover - depends on the installation
    gr = None

CHOICES = ("keep", "add", "remove")
PREVIEW_SIDE = 1024  # the comparison slider shows at most this many pixels a side; the download is full size
CONCURRENCY = 2  # edits at once (2 cores); the rest wait in the queue, which bounds memory
QUEUE_SIZE = 64
KEEP_OUTPUTS_SECONDS = 3600  # a request's preview and download files are deleted after an hour


def available_editors(model=None):
    """{attribute: {"add": editor, "remove": editor}}: the bundled editors, or one exported model's."""
    if model is not None:
        meta_path = os.path.join(model, "assets.extra", "tfface.json") if os.path.isdir(model) else None
        attribute = "attribute"
        if meta_path and os.path.isfile(meta_path):
            with open(meta_path) as f:
                attribute = json.load(f).get("attribute", attribute)
        return {attribute: {d: editors.load_editor(model, d) for d in ("add", "remove")}}
    out = {entry["attribute"]: building.keras_editors(entry) for entry in pretrained.entries()}
    if not out:
        raise UsageError("no bundled editors in this installation; pass --model with an exported editor")
    return out


def _preview(img, faces, show_boxes, path):
    """Write the (at most PREVIEW_SIDE) preview of ``img`` to ``path`` and return ``path``.

    A file of its own per request: handed an array, Gradio writes it to a path named by its content hash,
    rewriting the file in place each time, so requests with the same photo (the same "before") served
    one file while it was being rewritten and a download could end short."""
    picture = Image.fromarray(img)
    scale = min(1.0, PREVIEW_SIDE / max(picture.size))
    if scale < 1:
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.Resampling.LANCZOS)
    if show_boxes:
        draw = ImageDraw.Draw(picture)
        for (left, top, right, bottom), _, _ in faces:
            draw.rectangle([left * scale, top * scale, right * scale, bottom * scale], outline=(0, 255, 0),
                           width=max(2, round(3 * scale)))
    files.save_image(np.asarray(picture), path)
    return path


def _prune(out_dir, keep_seconds=KEEP_OUTPUTS_SECONDS):
    """Delete the files of requests older than ``keep_seconds`` (a long-running demo must not fill the disk)."""
    cutoff = time.time() - keep_seconds
    for name in os.listdir(out_dir):
        path = os.path.join(out_dir, name)
        try:
            if os.path.getmtime(path) < cutoff:
                os.remove(path)
        except OSError:  # another request pruned it first
            pass


def edit_request(editors, photo_path, show_boxes, settings, out_dir, max_pixels=DEFAULT_MAX_PIXELS):
    """One request: (before preview path, after preview path, full-size PNG path, message), each file new
    in ``out_dir`` (files older than an hour there are deleted).  ``settings``: per
    attribute (in ``editors``' order) a choice of CHOICES and a strength.  ValueError with the message for
    the user (no photo, nothing picked, unreadable or oversized file, no face)."""
    if not photo_path:
        raise ValueError("Upload a photo (or take one with the webcam) first.")
    edits, names = [], []
    for (attribute, pair), (choice, strength) in zip(editors.items(), settings):
        if choice not in CHOICES:
            raise ValueError(f"{attribute}: pick keep, add or remove")
        if choice != "keep" and strength is not None and float(strength) != 0:
            edits.append((pair[choice], float(strength)))
            names.append(f"{choice} {attribute} ({float(strength):g})")
    if not edits:
        raise ValueError("Pick an edit: add or remove at least one attribute.")
    try:
        picture = load_image(photo_path, max_pixels=max_pixels)
    except DataError as e:
        raise ValueError(f"This file cannot be edited: {e}") from None
    t0 = time.perf_counter()
    faces = detect_faces(picture)
    if not faces:
        raise ValueError("No face found in this photo: try a photo where a face is seen from the front.")
    edited = photo.apply_edits(picture, faces, edits)
    seconds = time.perf_counter() - t0
    # Names of its own per request: concurrent requests may finish in the same millisecond.
    _prune(out_dir)
    key = uuid.uuid4().hex
    path = os.path.join(out_dir, f"edited-{key}.png")
    files.save_image(edited, path)
    h, w = picture.shape[:2]
    message = (f"Edited {len(faces)} face(s) of a {w}×{h} photo: {', '.join(names)} in {seconds:.1f} s. "
               f"The download is full size.")
    before = _preview(picture, faces, show_boxes, os.path.join(out_dir, f"before-{key}.webp"))
    after = _preview(edited, faces, show_boxes, os.path.join(out_dir, f"after-{key}.webp"))
    return before, after, path, message


def build_app(model=None, max_pixels=DEFAULT_MAX_PIXELS):
    """The Gradio app (``gr.Blocks``) on the bundled editors, or on ``model`` (an exported editor)."""
    if gr is None:
        raise UsageError('the demo needs Gradio: pip install -e ".[demo]"')
    editors = available_editors(model)
    out_dir = tempfile.mkdtemp(prefix="tfface-demo-")
    with gr.Blocks(title="tfface: edit a face", analytics_enabled=False) as app:
        gr.Markdown("## tfface: edit the faces in your photo\nResidual-image editors running on this computer; "
                    "nothing leaves it.")
        with gr.Row():
            with gr.Column():
                image = gr.Image(type="filepath", sources=["upload", "webcam"], label="Your photo", elem_id="photo")
                controls = []
                for attribute in editors:
                    with gr.Row():
                        choice = gr.Radio(list(CHOICES), value="keep", label=attribute.replace("_", " "),
                                          elem_id=f"choice-{attribute}")
                        strength = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="strength",
                                             elem_id=f"strength-{attribute}")
                    controls += [choice, strength]
                boxes = gr.Checkbox(value=False, label="show the detected face boxes", elem_id="boxes")
                go = gr.Button("Edit", variant="primary", elem_id="edit")
            with gr.Column():
                compare = gr.ImageSlider(label="before | after", type="filepath", elem_id="compare")
                download = gr.DownloadButton("Download the full-size result", visible=False, elem_id="download")
                status = gr.Markdown(elem_id="status")

        def run(photo_path, show_boxes, *values):
            pairs = list(zip(values[0::2], values[1::2]))
            try:
                before, after, path, message = edit_request(editors, photo_path, show_boxes, pairs, out_dir, max_pixels)
            except ValueError as e:
                raise gr.Error(str(e)) from None
            return (before, after), gr.DownloadButton(value=path, visible=True), message

        go.click(run, [image, boxes, *controls], [compare, download, status], concurrency_limit=CONCURRENCY)
    app.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    app.tfface_output_dir = out_dir
    return app


def launch(model=None, host="127.0.0.1", port=7860, max_pixels=DEFAULT_MAX_PIXELS, block=True):
    """Start the app on ``host:port`` (loopback by default), offline: no share link, no analytics, no SSR
    node server.  Returns the app (``block=False``: it keeps serving in a background thread)."""
    app = build_app(model, max_pixels)
    app.launch(server_name=host, server_port=int(port), share=False, inbrowser=False, ssr_mode=False,
               mcp_server=False, prevent_thread_lock=not block, quiet=not block, show_error=True,
               allowed_paths=[app.tfface_output_dir])
    return app
