import json

import numpy as np
from PIL import Image

from tfface.cli import main


def write_run(path, records):
    path.mkdir()
    (path / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + "{torn line\n")


def record(step, seconds, add_flip, remove_flip):
    return {"step": step, "train_seconds": seconds,
            "add": {"flip_rate": add_flip, "identity_median": 0.4, "region_energy": 0.7, "d_real_recall": 0.9},
            "remove": {"flip_rate": remove_flip, "identity_median": 0.5, "region_energy": None}}


def test_progress_prints_each_run_and_draws_the_curves(tmp_path, capsys):
    write_run(tmp_path / "a", [record(100, 360, 0.5, 0.1), record(200, 720, 0.8, 0.3)])
    write_run(tmp_path / "b", [record(100, 900, 0.2, 0.05)])
    out = tmp_path / "chart.png"
    code = main(["progress", "--run_dir", str(tmp_path / "a"), "--run_dir", str(tmp_path / "b"), "--out", str(out)])
    text = capsys.readouterr().out.splitlines()
    assert code == 0
    assert text[0] == "a:" and text[2].split() == ["100", "0.10", "0.500", "0.400", "0.700", "–", "0.900", "0.100", "0.500", "–", "–", "–"]
    assert text[3].split()[:3] == ["200", "0.20", "0.800"] and text[4] == "b:"
    img = np.asarray(Image.open(out))
    assert img.shape[1] == 3 * 420, "three panels: flip rate, identity, region share"
    assert (img != 255).any(axis=-1).mean() > 0.01


def test_progress_of_an_iterative_run_has_its_own_columns_and_panels(tmp_path, capsys):
    rec = lambda step, flip: {"step": step, "train_seconds": step * 3.6, "hamming_loss": 0.1,  # noqa: E731
                              "reconstruction_psnr": 19.5, "identity_median": None, "flip_rate": {"Smiling": flip},
                              "mean_flip_rate": flip, "z_r2": 0.4}
    write_run(tmp_path / "it", [rec(1000, 0.6), rec(2000, 0.7)])
    write_run(tmp_path / "res", [record(100, 360, 0.5, 0.1)])
    out = tmp_path / "chart.png"
    assert main(["progress", "--run_dir", str(tmp_path / "it"), "--run_dir", str(tmp_path / "res"), "--out", str(out)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == "it:" and text[1].split()[2:] == ["Hamming", "rebuild", "PSNR", "identity", "mean", "flip",
                                                         "unedited", "z", "R2"]
    assert text[2].split() == ["1000", "1.00", "0.100", "19.500", "–", "0.600", "–", "0.400"]
    assert text[4] == "res:"
    # Iterative: mean flip and Hamming (no identity measured); residual: flip, identity, region.
    assert np.asarray(Image.open(out)).shape[1] == 5 * 420


def test_progress_of_a_run_without_measures_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    assert main(["progress", "--run_dir", str(tmp_path / "r")]) == 1
    assert "no progress.jsonl in" in capsys.readouterr().err
