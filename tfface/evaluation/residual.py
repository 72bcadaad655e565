"""Measures of the residual editors (paper 1): the final metrics of training and a full evaluation.

Full evaluation (:func:`evaluate`), where each applies:

1. synthetic ground truth: PSNR/SSIM against the counterfactual, PSNR outside
   the attribute mask, share of the residual's energy inside the mask;
2. the attribute-classifier flip rate;
3. identity preservation (dlib 128-D embedding distance, input vs output);
4. the residual paper's landmark experiment (Table 2) for Eyeglasses;
5. figures: input | residual | output grids, residual heat maps, saliency maps.

``ctx`` is the evaluation context of :mod:`tfface.evaluation.evaluate`.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from PIL import Image
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

from tfface import files
from tfface.data import synthetic
from tfface.data.celeba import CelebA
from tfface.data.collections import SyntheticCollection
from tfface.data.pipeline import to_float
from tfface.evaluation import face_measures, metrics, regions, statistics
from tfface.evaluation import judge as judge_lib
from tfface.evaluation.report import fmt, provenance
from tfface.inference import DIRECTIONS, batched
from tfface.losses.residual import GENERATED
from tfface.pictures import grid_image, heat, residual_picture


def edited_test_sets(editor, data, n):
    """{direction: (indices, inputs, edits)} for the first ``n`` test images of each domain
    (domain 0 lacks the attribute and is edited by "add", domain 1 by "remove")."""
    sets = {}
    for domain, direction in enumerate(DIRECTIONS):
        x = data.first_images("test", n, domain)
        sets[direction] = (np.arange(len(x)), x, editor.edit(direction, x))
    return sets


def final_metrics(editor, data, settings):
    """metrics.json at the end of training: ground-truth scores on synthetic data, residual size otherwise."""
    out = {"method": settings.method, "attribute": settings.attribute, "data": settings.data}
    for domain, (direction, (idx, x, y)) in enumerate(edited_test_sets(editor, data, settings.eval_images).items()):
        entry = {"images": int(len(x)), "mean_abs_residual": float(np.abs(y.astype(np.float64) - x).mean() / 127.5)}
        if data.has_ground_truth:
            _, target, mask = data.test[domain].counterfactual(idx, settings.attribute)
            entry.update(metrics.edit_scores(x, y, target, mask))
        out[direction] = entry
    return out


def summary_lines(m):
    for direction in DIRECTIONS:
        e = m[direction]
        if "model" in e:
            yield (f"{direction} {m['attribute']}: PSNR vs ground truth {e['model']['psnr']:.2f} dB "
                   f"(do-nothing {e['do_nothing']['psnr']:.2f}), inside the attribute region "
                   f"{e['model']['psnr_in_mask']:.2f} (do-nothing {e['do_nothing']['psnr_in_mask']:.2f}), "
                   f"outside {e['model']['psnr_outside_mask']:.2f}")
        else:
            yield f"{direction} {m['attribute']}: mean |residual| {e['mean_abs_residual']:.4f} on {e['images']} test images"


# -- full evaluation ------------------------------------------------------------------------
def evaluate(ctx, figures_dir):
    attribute = ctx.settings.attribute
    sets = edited_test_sets(ctx.editor, ctx.data, ctx.images)
    # The judge sees each image set once: each domain's inputs (also the real target-class images of the
    # other direction) and its edits.  Its features serve even when it has no label for the attribute.
    judged = ctx.optional("judge", lambda: {(d, kind): ctx.judged(imgs) for d, (_, x, y) in enumerate(sets.values())
                                            for kind, imgs in (("input", x), ("edit", y))})
    k = ctx.optional("classifier", lambda: ctx.label_index(attribute)) if judged else None
    out = {}
    for domain, (direction, (idx, x, y)) in enumerate(sets.items()):
        entry = {"images": int(len(x))}
        if ctx.data.has_ground_truth:
            _, target, mask = ctx.data.test[domain].counterfactual(idx, attribute)
            entry["ground_truth"] = metrics.ground_truth_scores(x, y, target, mask)
        entry["classifier"] = entry["distribution"] = None
        if judged:
            (p_in, f_in), (p_edit, f_edit), (p_real, f_real) = (judged[key] for key in (
                (domain, "input"), (domain, "edit"), (1 - domain, "input")))
            if k is not None:
                hit = (lambda p: p[:, k] >= 0.5) if direction == "add" else (lambda p: p[:, k] < 0.5)
                entry["classifier"] = {"flip_rate": statistics.rate(hit(p_edit)), "error_on_inputs": statistics.rate(hit(p_in)),
                                       "recall_on_real_targets": statistics.rate(hit(p_real))}
            entry["distribution"] = ctx.optional(f"distribution_{direction}",
                                                 lambda: ctx.distribution_distances(f_edit, f_in, f_real))
        entry["identity"] = ctx.optional(f"identity_{direction}", lambda x=x, y=y: ctx.identity(x, y))
        if not ctx.data.has_ground_truth:
            entry["region"] = ctx.optional(f"region_{direction}", lambda x=x, y=y: region_scores(attribute, x, y))
        out[direction] = entry
    if attribute == "Eyeglasses":
        out["landmarks"] = ctx.optional("landmarks", lambda: landmark_experiment(ctx, sets))
    out["figures"] = figures(ctx, sets, figures_dir)
    return out


def discriminator_view(model, edits, target, inputs=None):
    """What the run's own D makes of edits: its mean probability of the target real class and of
    "generated".  Next to the judge's flip rate it shows when D is fooled where the judge is not.
    With ``inputs`` (the real images that were edited, of class 1 - target) also ``d_real_recall``: the
    share of them that D ranks in their own class among its two real classes, how well D knows the
    attribute on real faces (the generators cannot learn it better than D does)."""
    def logits(x):
        return batched(lambda b: model.d(to_float(b), training=False)[0], np.asarray(x))

    lg = logits(edits)
    p = np.exp(lg - lg.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    out = {"d_target": float(p[:, target].mean()), "d_generated": float(p[:, GENERATED].mean())}
    if inputs is not None:
        lg = logits(inputs)
        own = 1 - target
        out["d_real_recall"] = float(np.mean(lg[:, own] > lg[:, target]))
    return out


def five_points_of(images):
    """Five landmarks of aligned faces [N, 5, 2]: dlib's where it is installed, else the training framing's."""
    try:
        return face_measures.five_points(face_measures.landmarks68(images)[0]), "dlib 68-point landmarks"
    except RuntimeError:
        return regions.template_points(len(images), images.shape[1]), "the training framing (no dlib)"


def region_scores(attribute, inputs, edits, points=None):
    """The residual's energy share inside the attribute's region (:mod:`tfface.evaluation.regions`):
    mean, median and its interval, with the region's mean share of the area; ValueError for a global
    attribute (no region)."""
    source = "given"
    if points is None:
        points, source = five_points_of(inputs)
    m = regions.masks(attribute, points, inputs.shape[1])
    if m is None:
        raise ValueError(f"{attribute} is a global attribute: no face region")
    share = regions.energy_shares(inputs, edits, m)
    share = share[np.isfinite(share)]
    return {"energy_share": float(share.mean()) if len(share) else None,
            "median_energy_share": float(np.median(share)) if len(share) else None,
            "median_interval": statistics.median_interval(share) if len(share) else None,
            "area_share": float(m.mean()), "images": int(len(share)), "landmarks": source}


def _true_landmarks(ctx, i0, i1):
    """Ground-truth five points of the test images of both domains, and where they come from."""
    c0, c1 = ctx.data.test
    size = ctx.settings.image_size
    if isinstance(c0, SyntheticCollection):
        return (synthetic.landmarks(c0.seeds(i0), c0.attributes(i0), size),
                synthetic.landmarks(c1.seeds(i1), c1.attributes(i1), size)), "exact synthetic landmarks"
    spec = ctx.settings.data_spec
    if spec.kind != "celeba":
        return None, None
    celeba = CelebA.load(spec.paths[0])
    t0 = celeba.aligned_landmarks([c0.paths[i] for i in i0], size)
    if t0 is None:
        return None, None
    return (t0, celeba.aligned_landmarks([c1.paths[i] for i in i1], size)), "CelebA list_landmarks_align_celeba.txt"


def landmark_experiment(ctx, sets):
    """Paper 1, Table 2: landmark error on D0 (no glasses), D1 (glasses), D1m (D1 after removal)."""
    (i0, d0, _), (i1, d1, d1m) = sets["add"], sets["remove"]
    truth, source = _true_landmarks(ctx, i0, i1)
    lm = {name: face_measures.landmarks68(imgs)[0] for name, imgs in (("D0", d0), ("D1", d1), ("D1m", d1m))}
    if truth is None:
        # No ground truth: how far the detector's eyes move when glasses are removed.
        p1, pm = face_measures.five_points(lm["D1"]), face_measures.five_points(lm["D1m"])
        eye, rest = face_measures.normalized_errors(pm, p1)
        return {"ground_truth": "none (list_landmarks_align_celeba.txt not found): D1m vs D1 detections",
                "D1_to_D1m": {"eye": float(eye.mean()), "rest": float(rest.mean())}}
    table = {"ground_truth": source}
    for name, t in (("D0", truth[0]), ("D1", truth[1]), ("D1m", truth[1])):
        eye, rest = face_measures.normalized_errors(face_measures.five_points(lm[name]), t)
        table[name] = {"eye": float(eye.mean()), "rest": float(rest.mean()), "images": int(len(eye))}
    return table


def _save(img, figures_dir, name):
    files.save_image(img, os.path.join(figures_dir, name))
    return name


def figures(ctx, sets, figures_dir):
    figs = {}
    for direction, (_, x, y) in sets.items():
        n = min(8, len(x))
        rows = [[x[i], residual_picture(x[i], y[i]), y[i], heat(np.abs(y[i].astype(float) - x[i]).sum(-1))] for i in range(n)]
        figs[f"{direction}_grid"] = _save(grid_image(rows), figures_dir, f"{direction}_grid.png")
        mean_heat = np.abs(y.astype(float) - x).sum(-1).mean(0)
        figs[f"{direction}_mean_residual"] = _save(
            np.asarray(Image.fromarray(heat(mean_heat)).resize((256, 256), Image.NEAREST)), figures_dir,
            f"{direction}_mean_residual.png")
        sal = ctx.optional(f"saliency_{direction}", lambda x=x, y=y: saliency(ctx, x[:n], y[:n]))
        if sal is not None:
            figs[f"{direction}_saliency"] = _save(sal, figures_dir, f"{direction}_saliency.png")
    return figs


class GraphSaliency(Saliency):
    """tf-keras-vis's SmoothGrad with each gradient pass run as a graph (``tf.function``).

    Eagerly, TensorFlow's Conv2D gradient also computes every filter's gradient, which saliency
    never reads; on this CPU that eager oneDNN filter-gradient kernel aborted the process
    ("double free or corruption", in MklConvCustomBackpropFilterOp's reorder cache) after a
    model had been trained in the same process.  In a graph the unused filter gradients are
    pruned, and the passes run faster.
    """

    def _get_gradients(self, seed_inputs, scores, gradient_modifier, training, unconnected_gradients):
        if getattr(self, "_graph", None) is None:
            self._graph = tf.function(super()._get_gradients)
        return self._graph(seed_inputs, scores, gradient_modifier, training, unconnected_gradients)


def saliency(ctx, x, y):
    """tf-keras-vis saliency of the classifier's score for the attribute, on inputs and on outputs."""
    model, info, _ = ctx.classifier()
    k = info["attribute_names"].index(ctx.settings.attribute)
    # Score the logit, not the sigmoid: a confident sigmoid has no gradient.
    sal = GraphSaliency(model, model_modifier=ReplaceToLinear(), clone=True)
    maps = [sal(lambda o: o[:, k], np.asarray(imgs, np.float32), smooth_samples=16, smooth_noise=0.1) for imgs in (x, y)]
    rows = [[x[i], heat(maps[0][i]), y[i], heat(maps[1][i])] for i in range(len(x))]
    return grid_image(rows)


def ablation_row(ctx):
    """One row of the ablation table (e.g. full / --no_residual / --no_dual): ground-truth scores."""
    if not ctx.data.has_ground_truth:
        raise ValueError(f"{ctx.run_dir}: the ablation table needs runs on synthetic data (ground truth)")
    row = {"run": ctx.run_dir, "residual": ctx.settings.residual, "dual": ctx.settings.dual}
    for domain, (direction, (idx, x, y)) in enumerate(edited_test_sets(ctx.editor, ctx.data, ctx.images).items()):
        _, target, mask = ctx.data.test[domain].counterfactual(idx, ctx.settings.attribute)
        row[direction] = metrics.ground_truth_scores(x, y, target, mask)["model"]
    return row


# -- report ---------------------------------------------------------------------------------
def _ground_truth_table(rows):
    out = ["| direction | | PSNR vs truth (dB) | SSIM | PSNR in mask | PSNR outside mask | residual energy in mask |",
           "|---|---|---|---|---|---|---|"]
    for direction, gt in rows:
        for who, label in (("model", "model"), ("do_nothing", "do nothing")):
            m = gt[who]
            out.append(f"| {direction if who == 'model' else ''} | {label} | {fmt(m['psnr'])} | {fmt(m['ssim'], 3)} | "
                       f"{fmt(m['psnr_in_mask'])} | {fmt(m['psnr_outside_mask'])} | {fmt(m.get('residual_energy_in_mask'), 3)} |")
    return out


def report_sections(r):
    """The report's sections for a residual evaluation result (markdown lines)."""
    lines = []
    if any("ground_truth" in r[d] for d in DIRECTIONS):
        lines += ["## Synthetic ground truth", "",
                  "Edits against the rendered counterfactual (same face, attribute flipped). "
                  "PSNR is capped at 100 dB (identical).", ""]
        lines += _ground_truth_table([(d, r[d]["ground_truth"]) for d in DIRECTIONS if "ground_truth" in r[d]])
        lines.append("")
    if any(r[d].get("classifier") for d in DIRECTIONS):
        j = r.get("judge", {})
        ci = statistics.interval_text
        lines += ["## Judged flip rate", "",
                  f"Share of edited test images the judge (`{j.get('dir')}`, mean val balanced accuracy "
                  f"{fmt(j.get('mean_val_balanced_accuracy'), 3)}) gives the target value, with 95% Wilson intervals. "
                  "Beside it, the judge's own error on the unedited inputs (it already calls them the target) and its "
                  "recall on real test images of the target class: a flip rate means little beyond those.", "",
                  "| direction | flip rate | judge error on inputs | judge recall on real targets | images |",
                  "|---|---|---|---|---|"]
        lines += [f"| {d} | {ci(r[d]['classifier']['flip_rate'])} | {ci(r[d]['classifier']['error_on_inputs'])} | "
                  f"{ci(r[d]['classifier']['recall_on_real_targets'])} | {r[d]['classifier']['flip_rate']['n']} |"
                  for d in DIRECTIONS if r[d].get("classifier")]
        lines.append("")
    if any(r[d].get("distribution") for d in DIRECTIONS):
        lines += ["## Distance to real images of the target class", "",
                  "On the judge's penultimate features (not FID: Inception's weights are not available offline; "
                  "compare within one judge only). Fréchet distance, and the kernel distance (unbiased MMD², "
                  "KID's cubic kernel) that is fair to small samples. Lower is closer; doing nothing is the baseline.", "",
                  "| direction | Fréchet (model) | Fréchet (do nothing) | kernel (model) | kernel (do nothing) | real images |",
                  "|---|---|---|---|---|---|"]
        for d in DIRECTIONS:
            t = r[d].get("distribution")
            if t:
                lines.append(f"| {d} | {fmt(t['model']['frechet'], 3)} | {fmt(t['do_nothing']['frechet'], 3)} | "
                             f"{fmt(t['model']['kernel'], 4)} | {fmt(t['do_nothing']['kernel'], 4)} | {t['real_images']} |")
        lines.append("")
    if any(r[d].get("identity") for d in DIRECTIONS):
        lines += ["## Identity preservation", "", "dlib 128-D embeddings, input vs output (same person below 0.6).", "",
                  "| direction | median distance [95% bootstrap] | share < 0.6 [95% Wilson] | pairs |", "|---|---|---|---|"]
        for d in DIRECTIONS:
            i = r[d].get("identity")
            if i:
                lo, hi = i["median_interval"]
                slo, shi = i["share_same_person_interval"]
                lines.append(f"| {d} | {fmt(i['median_distance'], 3)} [{fmt(lo, 3)}, {fmt(hi, 3)}] | "
                             f"{fmt(i['share_same_person'], 3)} [{fmt(slo, 3)}, {fmt(shi, 3)}] | {i['pairs']} |")
        lines.append("")
    if any(r[d].get("region") for d in DIRECTIONS):
        lines += ["## Where the edit is", "",
                  "Share of the residual's energy inside the attribute's face region (a box from the five landmarks, "
                  "see tfface/evaluation/regions.py), per image; an edit spread evenly would score the region's area share.", "",
                  "| direction | mean share | median [95% bootstrap] | area share | images | landmarks |", "|---|---|---|---|---|---|"]
        for d in DIRECTIONS:
            g = r[d].get("region")
            if g:
                lo, hi = g["median_interval"] or (None, None)
                lines.append(f"| {d} | {fmt(g['energy_share'], 3)} | {fmt(g['median_energy_share'], 3)} [{fmt(lo, 3)}, "
                             f"{fmt(hi, 3)}] | {fmt(g['area_share'], 3)} | {g['images']} | {g['landmarks']} |")
        lines.append("")
    lm = r.get("landmarks")
    if lm:
        lines += ["## Landmark detection with glasses removal (paper 1, Table 2)", "",
                  f"dlib 68-point ERT landmarks; mean distance / inter-ocular distance. Ground truth: {lm['ground_truth']}.", ""]
        if "D0" in lm:
            lines += ["| landmarks | D0 (no glasses) | D1 (glasses) | D1m (glasses removed) |", "|---|---|---|---|",
                      f"| eyes | {fmt(lm['D0']['eye'], 4)} | {fmt(lm['D1']['eye'], 4)} | {fmt(lm['D1m']['eye'], 4)} |",
                      f"| nose, mouth corners | {fmt(lm['D0']['rest'], 4)} | {fmt(lm['D1']['rest'], 4)} | {fmt(lm['D1m']['rest'], 4)} |",
                      "", "Paper (CelebA 128 px): eyes 0.02341 / 0.03570 / 0.03048, rest 0.04424 / 0.04605 / 0.04608.", ""]
        else:
            lines += [f"D1 → D1m detection change: eyes {fmt(lm['D1_to_D1m']['eye'], 4)}, rest {fmt(lm['D1_to_D1m']['rest'], 4)}", ""]
    figs = r.get("figures", {})
    if figs:
        lines += ["## Figures", ""]
        for d in DIRECTIONS:
            if f"{d}_grid" in figs:
                lines += [f"**{d}**: input | residual | output | residual magnitude", "", f"![{d}]({figs[d + '_grid']})", ""]
            if f"{d}_mean_residual" in figs:
                lines += [f"Mean residual magnitude over the test set ({d}):", "", f"![{d} heat]({figs[d + '_mean_residual']})", ""]
            if f"{d}_saliency" in figs:
                lines += [f"Classifier saliency (tf-keras-vis) for the attribute: input | saliency | output | saliency ({d}):", "",
                          f"![{d} saliency]({figs[d + '_saliency']})", ""]
    if r.get("ablation"):
        lines += ["## Ablation", "", "| run | residual | dual | add PSNR in mask | add outside | remove PSNR in mask | remove outside |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| `{a['run']}` | {a['residual']} | {a['dual']} | {fmt(a['add']['psnr_in_mask'])} | "
                  f"{fmt(a['add']['psnr_outside_mask'])} | {fmt(a['remove']['psnr_in_mask'])} | {fmt(a['remove']['psnr_outside_mask'])} |"
                  for a in r["ablation"]]
        lines.append("")
    return lines


def registry_scores(m):
    """A bundled editor's val scores from its evaluation ``m`` (None when it was not evaluated): per
    direction the flip rate, identity median, Fréchet distance and the residual's share in the face region."""
    if m is None:
        return None
    out = {"images": {}, **provenance(m)}
    for d in DIRECTIONS:
        e = m.get(d) or {}
        out["images"][d] = e.get("images")
        out[d] = {"flip_rate": (e.get("classifier") or {}).get("flip_rate", {}).get("rate"),
                  "identity_median": (e.get("identity") or {}).get("median_distance"),
                  "frechet": ((e.get("distribution") or {}).get("model") or {}).get("frechet"),
                  "region_energy": (e.get("region") or {}).get("energy_share")}
    return out


# -- measures along training (--judge_every) -----------------------------------------------
PROGRESS_IDENTITY_PAIRS = 64


class ProgressJudge:
    """The edits' quality on held-out images while a run trains (``--judge_every``, one line of progress.jsonl).

    Per direction, on the first ``settings.eval_images`` test images of its
    domain (a fixed random subset of the held-out split): the shipped judge's
    flip rate, the mean |residual|, the residual's energy share inside the
    attribute's face region (local attributes on real faces), and the median
    dlib identity distance on the first ``identity_pairs`` of them (None
    without the ``faces`` extra), and the run's own D's view of the edits
    (:func:`discriminator_view`).
    The judge is the one ``tfface evaluate`` uses for the run's data kind and
    image size; without one (e.g. folders of an attribute it does not know)
    the flip rate is None and the rest is still measured.
    """

    def __init__(self, settings, identity_pairs=PROGRESS_IDENTITY_PAIRS):
        self.settings, self.identity_pairs = settings, int(identity_pairs)
        self.points = {}
        kind = "celeba" if settings.data_spec.kind == "folders" else settings.data_spec.kind
        self.judge, self.k, self.why_no_judge = None, None, None
        try:
            self.judge, info = judge_lib.load(judge_lib.shipped_dir(kind, settings.image_size))
            self.k = info["attribute_names"].index(settings.attribute)
        except FileNotFoundError as e:
            self.why_no_judge = str(e)
        except ValueError:
            self.judge, self.why_no_judge = None, f"the shipped {kind} judge has no label {settings.attribute!r}"

    def __call__(self, editor, data):
        out = {}
        for direction, (_, x, y) in edited_test_sets(editor, data, self.settings.eval_images).items():
            entry = {"images": int(len(x)),
                     "mean_abs_residual": float(np.abs(y.astype(np.float64) - x).mean() / 127.5), "flip_rate": None,
                     "identity_median": None, "region_energy": None}
            if self.settings.attribute in regions.REGION_OF and not data.has_ground_truth:
                if direction not in self.points:  # the inputs are the same every time: landmarks once
                    self.points[direction] = five_points_of(x)[0]
                entry["region_energy"] = region_scores(self.settings.attribute, x, y, self.points[direction])["energy_share"]
            if self.judge is not None:
                p = judge_lib.predict(self.judge, y)[:, self.k]
                entry["flip_rate"] = float(np.mean(p >= 0.5 if direction == "add" else p < 0.5))
            entry.update(discriminator_view(editor.model, y, target=1 if direction == "add" else 0, inputs=x))
            entry["identity_median"] = face_measures.median_identity_distance(x, y, self.identity_pairs)
            out[direction] = entry
        return out
