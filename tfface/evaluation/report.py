"""eval/report.md from an evaluation's metrics."""

from __future__ import annotations


def _f(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def _ground_truth_table(rows):
    out = ["| direction | | PSNR vs truth (dB) | SSIM | PSNR in mask | PSNR outside mask | residual energy in mask |",
           "|---|---|---|---|---|---|---|"]
    for direction, gt in rows:
        m, i = gt["model"], gt["identity"]
        out.append(f"| {direction} | model | {_f(m['psnr'])} | {_f(m['ssim'], 3)} | {_f(m['psnr_in_mask'])} | "
                   f"{_f(m['psnr_outside_mask'])} | {_f(m.get('residual_energy_in_mask'), 3)} |")
        out.append(f"| | do nothing | {_f(i['psnr'])} | {_f(i['ssim'], 3)} | {_f(i['psnr_in_mask'])} | "
                   f"{_f(i['psnr_outside_mask'])} | |")
    return out


def write_report(r, path):
    lines = [f"# Evaluation: {r['method']} — {r['attribute'] if r['method'] == 'residual' else 'all labels'}", "",
             f"Run `{r['run_dir']}` at step {r['step']}, data `{r['data']}`, {r['image_size']} px.", ""]
    if r["method"] == "residual":
        if any("ground_truth" in r[d] for d in ("add", "remove")):
            lines += ["## Synthetic ground truth", "",
                      "Edits against the rendered counterfactual (same face, attribute flipped). "
                      "PSNR is capped at 100 dB (identical).", ""]
            lines += _ground_truth_table([(d, r[d]["ground_truth"]) for d in ("add", "remove") if "ground_truth" in r[d]])
            lines.append("")
        if any(r[d].get("classifier") for d in ("add", "remove")):
            lines += ["## Attribute classifier flip rate", "",
                      f"Share of edited test images the separate classifier (`{r.get('classifier', {}).get('dir')}`, "
                      f"mean test accuracy {_f(r.get('classifier', {}).get('mean_test_accuracy'), 3)}) gives the target value.", "",
                      "| direction | flip rate | inputs already at target |", "|---|---|---|"]
            for d in ("add", "remove"):
                c = r[d].get("classifier")
                if c:
                    lines.append(f"| {d} | {_f(c['flip_rate'], 3)} | {_f(c['input_already_target'], 3)} |")
            lines.append("")
        if any(r[d].get("identity") for d in ("add", "remove")):
            lines += ["## Identity preservation", "", "dlib 128-D embeddings, input vs output (same person below 0.6).", "",
                      "| direction | median distance | share < 0.6 |", "|---|---|---|"]
            for d in ("add", "remove"):
                i = r[d].get("identity")
                if i:
                    lines.append(f"| {d} | {_f(i['median_distance'], 3)} | {_f(i['share_same_person'], 3)} |")
            lines.append("")
        lm = r.get("landmarks")
        if lm:
            lines += ["## Landmark detection with glasses removal (paper 1, Table 2)", "",
                      f"dlib 68-point ERT landmarks; mean distance / inter-ocular distance. Ground truth: {lm['ground_truth']}.", ""]
            if "D0" in lm:
                lines += ["| landmarks | D0 (no glasses) | D1 (glasses) | D1m (glasses removed) |", "|---|---|---|---|",
                          f"| eyes | {_f(lm['D0']['eye'], 4)} | {_f(lm['D1']['eye'], 4)} | {_f(lm['D1m']['eye'], 4)} |",
                          f"| nose, mouth corners | {_f(lm['D0']['rest'], 4)} | {_f(lm['D1']['rest'], 4)} | {_f(lm['D1m']['rest'], 4)} |",
                          "", "Paper (CelebA 128 px): eyes 0.02341 / 0.03570 / 0.03048, rest 0.04424 / 0.04605 / 0.04608.", ""]
            else:
                lines += [f"D1 → D1m detection change: eyes {_f(lm['D1_to_D1m']['eye'], 4)}, rest {_f(lm['D1_to_D1m']['rest'], 4)}", ""]
        figs = r.get("figures", {})
        if figs:
            lines += ["## Figures", ""]
            for d in ("add", "remove"):
                if f"{d}_grid" in figs:
                    lines += [f"**{d}**: input | residual | output | residual magnitude", "", f"![{d}]({figs[d + '_grid']})", ""]
                if f"{d}_mean_residual" in figs:
                    lines += [f"Mean residual magnitude over the test set ({d}):", "", f"![{d} heat]({figs[d + '_mean_residual']})", ""]
                if f"{d}_saliency" in figs:
                    lines += [f"Classifier saliency (tf-keras-vis) for the attribute: input | saliency | output | saliency ({d}):", "",
                              f"![{d} saliency]({figs[d + '_saliency']})", ""]
    else:
        rec = r["recognition"]
        lines += ["## Recognition", "", "| | Hamming loss |", "|---|---|", f"| classifier C | {_f(rec['hamming_loss'], 4)} |"]
        for k, label in (("cnn_baseline_hamming_loss", "CNN baseline (same D trunk, labels only)"),
                         ("majority_baseline_hamming_loss", "majority value per label")):
            if k in rec:
                lines.append(f"| {label} | {_f(rec[k], 4)} |")
        rc = r["reconstruction"]
        lines += ["", "## Reconstruction", "", f"PSNR {_f(rc['psnr'])} dB, SSIM {_f(rc['ssim'], 3)}"
                  + (f", identity median distance {_f(rc['identity']['median_distance'], 3)}" if rc.get("identity") else ""), "",
                  "## Transformation", "", "| attribute | classifier flip rate | identity median distance | PSNR in mask vs truth |",
                  "|---|---|---|---|"]
        for name, t in r["transformation"].items():
            gt = t.get("ground_truth", {}).get("model", {})
            lines.append(f"| {name} | {_f(t.get('classifier_flip_rate'), 3)} | "
                         f"{_f((t.get('identity') or {}).get('median_distance'), 3)} | {_f(gt.get('psnr_in_mask'))} |")
        lines += ["", f"Columns: {' | '.join(r['figure_columns'])}", "", f"![transformations]({r['figures']['transform_grid']})", ""]
    if r.get("ablation"):
        lines += ["## Ablation", "", "| run | residual | dual | add PSNR in mask | add outside | remove PSNR in mask | remove outside |",
                  "|---|---|---|---|---|---|---|"]
        for a in r["ablation"]:
            lines.append(f"| `{a['run']}` | {a['residual']} | {a['dual']} | {_f(a['add']['psnr_in_mask'])} | "
                         f"{_f(a['add']['psnr_outside_mask'])} | {_f(a['remove']['psnr_in_mask'])} | {_f(a['remove']['psnr_outside_mask'])} |")
        lines.append("")
    if r.get("skipped"):
        lines += ["## Not measured", ""] + [f"- {k}: {v}" for k, v in r["skipped"].items()] + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
