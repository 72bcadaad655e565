"""Evaluate a trained run: the numbers the papers could not give, offline.

    python -m tfface.evaluate --run_dir runs/residual-Eyeglasses-synthetic-64px
    python -m tfface.evaluate --run_dir RUN --compare runs/no-residual,runs/no-dual    # ablation table
    python -m tfface.evaluate --run_dir RUN --data celeba:/data/celeba                 # other test data

Writes ``<run_dir>/eval/metrics.json`` and ``<run_dir>/eval/report.md`` with
figures (PNG) next to them.  Measures, where they apply:

1. synthetic ground truth: PSNR/SSIM against the counterfactual, PSNR outside
   the attribute mask, share of the residual's energy inside the mask;
2. attribute-classifier flip rate (a separate classifier, trained once per
   dataset and reused; see tfface.evaluation.classifier);
3. identity preservation: dlib 128-D embedding distance between input and output;
4. the residual paper's landmark experiment (Table 2) for Eyeglasses;
5. iterative GAN: Hamming loss vs its CNN baseline, reconstruction, identity;
6. an ablation table over --compare runs;
7. figures: input | residual | output grids, residual heat maps, saliency maps.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys

import numpy as np
from PIL import Image

from tfface.evaluation import metrics


def _save_png(img, path):
    Image.fromarray(np.asarray(img, np.uint8)).save(path)
    return os.path.basename(path)


def heat(values, vmax=None):
    """Non-negative map [H, W] -> uint8 RGB heat map (black, red, yellow, white)."""
    v = np.asarray(values, np.float64)
    vmax = vmax or max(float(v.max()), 1e-8)
    t = np.clip(v / vmax, 0, 1)
    rgb = np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], axis=-1)
    return np.round(rgb * 255).astype(np.uint8)


def _optional(name, fn, skipped):
    try:
        return fn()
    except (RuntimeError, ImportError, FileNotFoundError, ValueError) as e:
        skipped[name] = str(e)
        return None


class Evaluation:
    def __init__(self, run_dir, data=None, classifier_dir=None, images=256, classifier_steps=1500, say=print):
        from tfface.training.run import load_model

        self.run_dir, self.say = run_dir, say
        self.settings, self.method, self.model, self.step = load_model(run_dir)
        if data:
            self.settings = dataclasses.replace(self.settings, data=data)
        self.settings = dataclasses.replace(self.settings, eval_images=images)
        self.data = self.method.load_data(self.settings)
        self.images = images
        self.classifier_dir, self.classifier_steps = classifier_dir, classifier_steps
        self.skipped = {}
        self._classifier = None

    # -- shared pieces ----------------------------------------------------------------
    def classifier(self):
        from tfface.evaluation import classifier as clf

        if self._classifier is None:
            d = self.classifier_dir or clf.default_dir(self.settings.data, self.settings.image_size)
            if not os.path.isfile(os.path.join(d, "classifier.keras")):
                self.say(f"training the attribute classifier for {self.settings.data} at {d} (reused next time)")
                clf.train(self.settings.data, self.settings.image_size, self.classifier_steps, out=d,
                          attribute=self.settings.attribute, say=self.say)
            self._classifier = clf.load(d) + (d,)
        return self._classifier

    def _probability_of(self, images, attribute):
        from tfface.evaluation import classifier as clf

        model, info, _ = self.classifier()
        if attribute not in info["attribute_names"]:
            raise ValueError(f"the attribute classifier has no label {attribute!r}")
        return clf.predict(model, images)[:, info["attribute_names"].index(attribute)]

    def identity(self, a, b):
        from tfface.evaluation import faces

        return faces.identity_summary(faces.identity_distances(a, b))

    # -- residual editors ---------------------------------------------------------------
    def residual(self, figures_dir):
        from tfface.training.residual_gan import edit, residual_picture

        s, out = self.settings, {}
        att = s.attribute
        sets = {}
        for d, (direction, g) in enumerate((("add", self.model.g0), ("remove", self.model.g1))):
            coll = self.data.test[d]
            idx = np.arange(min(self.images, coll.size))
            x = coll.load_batch(idx)[0]
            y = edit(g, x)
            sets[direction] = (idx, x, y)
            entry = {"images": int(len(x))}
            if self.data.has_ground_truth:
                _, target, mask = coll.counterfactual(idx, att)
                entry["ground_truth"] = metrics.ground_truth_scores(x, y, target, mask)

            def flip(x=x, y=y, direction=direction):
                p_in, p_out = self._probability_of(x, att), self._probability_of(y, att)
                hit = (lambda p: p >= 0.5) if direction == "add" else (lambda p: p < 0.5)
                return {"flip_rate": float(np.mean(hit(p_out))), "input_already_target": float(np.mean(hit(p_in)))}

            entry["classifier"] = _optional(f"classifier_{direction}", flip, self.skipped)
            entry["identity"] = _optional(f"identity_{direction}", lambda x=x, y=y: self.identity(x, y), self.skipped)
            out[direction] = entry
        if att == "Eyeglasses":
            out["landmarks"] = _optional("landmarks", lambda: self.landmark_experiment(sets), self.skipped)
        out["figures"] = self.residual_figures(sets, figures_dir, residual_picture)
        return out

    def landmark_experiment(self, sets):
        """Paper 1, Table 2: landmark error on D0 (no glasses), D1 (glasses), D1m (D1 after removal)."""
        from tfface.data import synthetic
        from tfface.data.collections import SyntheticCollection
        from tfface.evaluation import faces

        (i0, d0, _), (i1, d1, d1m) = sets["add"], sets["remove"]
        truth = None
        if isinstance(self.data.test[0], SyntheticCollection):
            c0, c1 = self.data.test
            size = self.settings.image_size
            truth = (synthetic.landmarks(c0.seeds(i0), c0.attributes(i0), size),
                     synthetic.landmarks(c1.seeds(i1), c1.attributes(i1), size))
            source = "exact synthetic landmarks"
        else:
            truth = self._celeba_landmarks(i0, i1)
            source = "CelebA list_landmarks_align_celeba.txt" if truth else None
        lm = {name: faces.landmarks68(imgs)[0] for name, imgs in (("D0", d0), ("D1", d1), ("D1m", d1m))}
        if truth is None:
            # No ground truth: how far the detector's eyes move when glasses are removed.
            p1, pm = faces.five_points(lm["D1"]), faces.five_points(lm["D1m"])
            eye, rest = faces.normalized_errors(pm, p1)
            return {"ground_truth": "none (list_landmarks_align_celeba.txt not found): D1m vs D1 detections",
                    "D1_to_D1m": {"eye": float(eye.mean()), "rest": float(rest.mean())}}
        table = {"ground_truth": source}
        for name, t in (("D0", truth[0]), ("D1", truth[1]), ("D1m", truth[1])):
            eye, rest = faces.normalized_errors(faces.five_points(lm[name]), t)
            table[name] = {"eye": float(eye.mean()), "rest": float(rest.mean()), "images": int(len(eye))}
        return table

    def _celeba_landmarks(self, i0, i1):
        spec = self.data.spec
        if spec.kind != "celeba":
            return None
        path = os.path.join(spec.paths[0], "list_landmarks_align_celeba.txt")
        if not os.path.isfile(path):
            return None
        table = {}
        with open(path) as f:
            for line in f.read().splitlines()[2:]:
                parts = line.split()
                if len(parts) == 11:
                    table[parts[0]] = np.array(parts[1:], np.float64).reshape(5, 2)
        from tfface.data.celeba import CROP

        size = self.settings.image_size
        out = []
        for coll, idx in zip(self.data.test, (i0, i1)):
            pts = []
            for i in idx:
                name = os.path.basename(coll.paths[i])
                p = table[name].copy()
                p[:, 1] -= (218 - CROP) // 2  # the centre crop of a 178x218 aligned image
                pts.append(p * size / CROP)
            out.append(np.stack(pts))
        return tuple(out)

    def residual_figures(self, sets, figures_dir, residual_picture):
        from tfface.training.callbacks import grid_image

        figs = {}
        for direction, (_, x, y) in sets.items():
            n = min(8, len(x))
            rows = [[x[i], residual_picture(x[i], y[i]), y[i], heat(np.abs(y[i].astype(float) - x[i]).sum(-1))] for i in range(n)]
            figs[f"{direction}_grid"] = _save_png(grid_image(rows), os.path.join(figures_dir, f"{direction}_grid.png"))
            mean_heat = np.abs(y.astype(float) - x).sum(-1).mean(0)
            figs[f"{direction}_mean_residual"] = _save_png(
                np.asarray(Image.fromarray(heat(mean_heat)).resize((256, 256), Image.NEAREST)),
                os.path.join(figures_dir, f"{direction}_mean_residual.png"))
            sal = _optional(f"saliency_{direction}", lambda x=x, y=y: self.saliency(x[:n], y[:n]), self.skipped)
            if sal is not None:
                figs[f"{direction}_saliency"] = _save_png(sal, os.path.join(figures_dir, f"{direction}_saliency.png"))
        return figs

    def saliency(self, x, y):
        """tf-keras-vis saliency of the classifier's score for the attribute, on inputs and on outputs."""
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

        from tfface.training.callbacks import grid_image

        model, info, _ = self.classifier()
        k = info["attribute_names"].index(self.settings.attribute)
        # Score the logit, not the sigmoid: a confident sigmoid has no gradient.
        sal = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
        maps = [sal(lambda o: o[:, k], np.asarray(imgs, np.float32), smooth_samples=16, smooth_noise=0.1) for imgs in (x, y)]
        rows = [[x[i], heat(maps[0][i]), y[i], heat(maps[1][i])] for i in range(len(x))]
        return grid_image(rows)

    # -- iterative GAN ------------------------------------------------------------------
    def iterative(self, figures_dir):
        from tfface.iterative import Editor
        from tfface.training.callbacks import grid_image
        from tfface.training.iterative_gan import hamming_loss

        ed = Editor(self.model, self.data.attribute_names)
        idx = np.arange(min(self.images, self.data.test.size))
        x, c = self.data.test.load_batch(idx)
        out = {"recognition": {"hamming_loss": hamming_loss(ed.recognize(x), c)}}
        train_metrics = os.path.join(self.run_dir, "metrics.json")
        if os.path.isfile(train_metrics):
            with open(train_metrics) as f:
                r = json.load(f).get("recognition", {})
            for k in ("cnn_baseline_hamming_loss", "majority_baseline_hamming_loss"):
                if k in r:
                    out["recognition"][k] = r[k]
        rebuilt = ed.reconstruct(x)
        out["reconstruction"] = {"psnr": metrics.mean_finite(metrics.psnr(rebuilt, x)),
                                 "ssim": metrics.mean_finite(metrics.ssim(rebuilt, x))}
        out["reconstruction"]["identity"] = _optional("identity_reconstruction", lambda: self.identity(x, rebuilt), self.skipped)
        names = [n for n in ("Eyeglasses", "Smiling", "Male", "Bangs", "Young") if n in self.data.attribute_names][:3]
        out["transformation"] = {}
        rows = [list(x[:6]), list(rebuilt[:6])]
        for name in names:
            k = self.data.attribute_names.index(name)
            moved = ed.transform(x, {name: 1 - c[:, k]})
            rows.append(list(moved[:6]))
            entry = {"identity": _optional(f"identity_{name}", lambda m=moved: self.identity(x, m), self.skipped)}

            def flip(m=moved, k=k, name=name):
                p = self._probability_of(m, name)
                return float(np.mean((p >= 0.5) == (c[:, k] < 0.5)))

            entry["classifier_flip_rate"] = _optional(f"classifier_{name}", flip, self.skipped)
            if self.data.has_ground_truth:
                _, target, mask = self.data.test.counterfactual(idx, name)
                entry["ground_truth"] = metrics.ground_truth_scores(rebuilt, moved, target, mask)
            out["transformation"][name] = entry
        grid = grid_image([list(r) for r in zip(*rows)])
        out["figures"] = {"transform_grid": _save_png(grid, os.path.join(figures_dir, "transform_grid.png"))}
        out["figure_columns"] = ["input", "rebuilt"] + [f"flip {n}" for n in names]
        return out


def compare_rows(run_dirs, images, say):
    """Ablation rows: ground-truth scores of residual runs (e.g. full / --no_residual / --no_dual)."""
    rows = []
    for rd in run_dirs:
        ev = Evaluation(rd, images=images, say=say)
        if ev.settings.method != "residual" or not ev.data.has_ground_truth:
            raise ValueError(f"{rd}: the ablation table needs residual runs on synthetic data")
        from tfface.training.residual_gan import edit

        row = {"run": rd, "residual": ev.settings.residual, "dual": ev.settings.dual}
        for d, (direction, g) in enumerate((("add", ev.model.g0), ("remove", ev.model.g1))):
            coll = ev.data.test[d]
            idx = np.arange(min(images, coll.size))
            x = coll.load_batch(idx)[0]
            _, target, mask = coll.counterfactual(idx, ev.settings.attribute)
            row[direction] = metrics.ground_truth_scores(x, edit(g, x), target, mask)["model"]
        rows.append(row)
    return rows


def evaluate(run_dir, data=None, classifier_dir=None, images=256, compare=(), classifier_steps=1500, say=print):
    """Run every applicable measure; write <run_dir>/eval (replaced as a whole). Returns the metrics."""
    ev = Evaluation(run_dir, data, classifier_dir, images, classifier_steps, say)
    final = os.path.join(run_dir, "eval")
    tmp = f"{final}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        result = {"run_dir": os.path.abspath(run_dir), "method": ev.settings.method, "attribute": ev.settings.attribute,
                  "data": ev.settings.data, "step": ev.step, "image_size": ev.settings.image_size}
        result.update(ev.residual(tmp) if ev.settings.method == "residual" else ev.iterative(tmp))
        if ev._classifier is not None:
            _, info, d = ev._classifier
            result["classifier"] = {"dir": d, "mean_test_accuracy": info["mean_test_accuracy"],
                                    "test_accuracy": info["test_accuracy"]}
        if compare:
            result["ablation"] = compare_rows([run_dir, *compare], images, say)
        result["skipped"] = ev.skipped
        with open(os.path.join(tmp, "metrics.json"), "w") as f:
            json.dump(result, f, indent=2, sort_keys=True)
        from tfface.evaluation.report import write_report

        write_report(result, os.path.join(tmp, "report.md"))
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"evaluation: {os.path.join(final, 'report.md')}")
    return result


def main(argv=None):
    import argparse

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(prog="python -m tfface.evaluate", description="Evaluate a trained run.")
    ap.add_argument("--run_dir", required=True)
    ap.add_argument("--data", default=None, help="test data (default: the run's own)")
    ap.add_argument("--classifier", default=None, help="attribute classifier directory (default: classifiers/<data>-<size>px, trained if missing)")
    ap.add_argument("--classifier_steps", type=int, default=1500)
    ap.add_argument("--images", type=int, default=256, help="test images per domain")
    ap.add_argument("--compare", default="", help="comma-separated run directories for the ablation table")
    args = ap.parse_args(argv)
    try:
        evaluate(args.run_dir, args.data, args.classifier, args.images, [c for c in args.compare.split(",") if c],
                 args.classifier_steps)
    except FileNotFoundError as e:
        print(f"tfface.evaluate: error: {e}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"tfface.evaluate: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
