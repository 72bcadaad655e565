"""Use a trained iterative GAN: recognition, encoding, reconstruction, transformation, generation.

Python::

    from tfface.iterative import Editor
    ed = Editor.from_run("runs/iterative-all-synthetic-64px")
    probs = ed.recognize(images)                      # uint8 [N, S, S, 3] -> [N, n_labels]
    z, c = ed.encode(images)
    faces = ed.reconstruct(images)
    edited = ed.transform(images, {"Eyeglasses": 1, "Smiling": 0})
    new = ed.generate(8, {"Male": 1, "Eyeglasses": 1}, seed=0)

Command line (writes a PNG grid, prints recognitions)::

    python -m tfface.iterative recognize   --run_dir RUN a.jpg b.png
    python -m tfface.iterative reconstruct --run_dir RUN a.jpg --output rebuilt.png
    python -m tfface.iterative transform   --run_dir RUN a.jpg --set Eyeglasses=1 --set Smiling=0 --output out.png
    python -m tfface.iterative generate    --run_dir RUN --num 8 --set Male=1 --output faces.png
"""

from __future__ import annotations

import os
import sys

import numpy as np


class Editor:
    def __init__(self, model, attribute_names, batch_size=64):
        self.model = model
        self.attribute_names = tuple(attribute_names)
        self.batch_size = batch_size
        self.image_size = model.image_size

    @classmethod
    def from_run(cls, run_dir):
        from tfface.training.run import load_model

        settings, method, model, _ = load_model(run_dir)
        if settings.method != "iterative":
            raise ValueError(f"{run_dir} holds a {settings.method} run, not an iterative one")
        return cls(model, method.attribute_names(settings))

    def _batches(self, fn, images):
        from tfface.data.pipeline import to_float

        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != (self.image_size, self.image_size, 3):
            raise ValueError(f"images must be [N, {self.image_size}, {self.image_size}, 3], got {images.shape}")
        outs = [fn(to_float(images[i:i + self.batch_size])) for i in range(0, len(images), self.batch_size)]
        if isinstance(outs[0], tuple):
            return tuple(np.concatenate([o[k] for o in outs]) for k in range(len(outs[0])))
        return np.concatenate(outs)

    def encode(self, images):
        """images -> (z~ [N, z_dim] in (-1, 1), c~ [N, n_labels] in (0, 1))."""
        import keras

        def fn(x):
            z, logits = self.model.encode(x)
            return z.numpy(), keras.ops.sigmoid(logits).numpy()

        return self._batches(fn, images)

    def recognize(self, images):
        """Attribute probabilities [N, n_labels] (the classifier C)."""
        return self.encode(images)[1]

    def _labels(self, changes, base, n):
        """Apply {name: value or [N] values} to a label matrix (a copy of ``base``)."""
        labels = np.array(base, np.float32, copy=True).reshape(n, len(self.attribute_names))
        for name, value in (changes or {}).items():
            if name not in self.attribute_names:
                raise ValueError(f"unknown attribute {name!r}; valid: {', '.join(self.attribute_names)}")
            labels[:, self.attribute_names.index(name)] = np.broadcast_to(np.asarray(value, np.float32), (n,))
        return labels

    def _generate(self, z, c):
        from tfface.data.pipeline import to_uint8

        out = [to_uint8(self.model.g([z[i:i + self.batch_size], c[i:i + self.batch_size]], training=False)).numpy()
               for i in range(0, len(z), self.batch_size)]
        return np.concatenate(out)

    def transform(self, images, changes):
        """Rebuild images from (z~, c~) with some labels set: ``{"Eyeglasses": 1, ...}`` (§5.3.3)."""
        z, c = self.encode(images)
        return self._generate(z, self._labels(changes, c, len(z)))

    def reconstruct(self, images):
        """G(z~, c~): the image rebuilt from its own code (§5.3.2)."""
        return self.transform(images, {})

    def generate(self, n_or_z, attributes=None, labels=None, seed=0):
        """New faces from z ~ U(-1, 1) (or given z [N, z_dim]) with ``attributes`` (§5.3.5).

        Labels not given are 0, or taken from ``labels`` [N, n_labels].
        """
        if np.ndim(n_or_z) == 0:
            z = np.random.default_rng(seed).uniform(-1, 1, (int(n_or_z), self.model.z_dim)).astype(np.float32)
        else:
            z = np.asarray(n_or_z, np.float32)
        base = np.zeros((len(z), len(self.attribute_names)), np.float32) if labels is None else labels
        return self._generate(z, self._labels(attributes, base, len(z)))


def _parse_sets(values, names):
    out = {}
    for item in values or []:
        key, sep, val = item.partition("=")
        if not sep or val not in ("0", "1"):
            raise ValueError(f"--set takes NAME=0 or NAME=1, got {item!r}")
        out[key] = int(val)
    return out


def main(argv=None):
    import argparse

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(prog="python -m tfface.iterative", description="Use a trained iterative GAN.")
    ap.add_argument("command", choices=["recognize", "reconstruct", "transform", "generate"])
    ap.add_argument("images", nargs="*", help="image files (any common format)")
    ap.add_argument("--run_dir", required=True)
    ap.add_argument("--set", action="append", metavar="NAME=0|1", help="attribute to set (transform, generate)")
    ap.add_argument("--num", type=int, default=8, help="faces to generate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=None, help="PNG grid to write (default: <command>.png)")
    args = ap.parse_intermixed_args(argv)
    try:
        from PIL import Image

        from tfface.data.images import BadImageError, load_image

        ed = Editor.from_run(args.run_dir)
        changes = _parse_sets(args.set, ed.attribute_names)
        if args.command == "generate":
            rows = [list(ed.generate(args.num, changes, seed=args.seed))]
        else:
            if not args.images:
                raise ValueError(f"{args.command} needs image files")
            x = np.stack([load_image(p, ed.image_size) for p in args.images])
            if args.command == "recognize":
                probs = ed.recognize(x)
                for path, p in zip(args.images, probs):
                    present = [f"{n}={v:.2f}" for n, v in zip(ed.attribute_names, p) if v >= 0.5]
                    print(f"{path}: {', '.join(present) or '(no attribute above 0.5)'}")
                return 0
            y = ed.reconstruct(x) if args.command == "reconstruct" else ed.transform(x, changes)
            rows = [[a, b] for a, b in zip(x, y)]
        from tfface.training.callbacks import grid_image

        out = args.output or f"{args.command}.png"
        tmp = out + ".tmp.png"
        Image.fromarray(grid_image(rows)).save(tmp)
        os.replace(tmp, out)
        print(f"wrote {out}")
        return 0
    except (ValueError, FileNotFoundError, BadImageError) as e:
        print(f"tfface.iterative: error: {e}", file=sys.stderr)
        return 1 if isinstance(e, (FileNotFoundError, BadImageError)) else 2


if __name__ == "__main__":
    sys.exit(main())
