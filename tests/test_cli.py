import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.training.cli import ROOT
from tfface import cli
from tfface.settings import FIELDS, TYPES

COMMANDS = ("train", "export", "edit", "evaluate", "iterative", "judge")


def run_main(capsys, *argv, prog="tfface"):
    code = cli.main(list(argv), prog=prog)
    out, err = capsys.readouterr()
    return code, out, err


def flag_entries(help_text):
    """{flag: its help entry, whitespace normalised} from argparse's option lists."""
    entries, current = {}, None
    for line in help_text.splitlines():
        if line.startswith("  -"):
            current = line.split()[0].rstrip(",")
            if current == "-h":
                current = "--help"
            entries[current] = line
        elif line.startswith("    ") and current:
            entries[current] += line
        else:
            current = None
    return {k: " ".join(v.split()) for k, v in entries.items()}


def test_train_help_lists_every_setting_with_its_default(capsys):
    code, out, _ = run_main(capsys, "train", "--help", prog="train.py")
    assert code == 0 and out.startswith("usage: train.py ")
    entries = flag_entries(out)
    for name, f in FIELDS.items():
        entry = entries[f"--{name}"]
        assert "(default: " in entry, entry
        if TYPES[name] is bool:
            assert f"(default: {'on' if f.default else 'off'})" in entry
        elif f.default is not None:
            assert f"(default: {f.default})" in entry
    assert "--run_dir" in entries


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(capsys, command):
    code, out, _ = run_main(capsys, command, "--help")
    assert code == 0 and out.startswith(f"usage: tfface {command}")
    for flag, entry in flag_entries(out).items():
        if flag not in ("--help", "--run_dir", "--version", "--model_name", "--data", "--classifier", "--compare",
                        "--out", "--model", "--input", "--output", "--work_dir", "--recipe", "--pretrained", "--add", "--remove"):
            assert "(default: " in entry, (command, entry)


def test_top_level_help_lists_the_commands(capsys):
    code, out, _ = run_main(capsys, "--help")
    assert code == 0 and all(c in out for c in COMMANDS) and "Exit codes" in out


@pytest.mark.slow
def test_python_dash_m_tfface_is_the_command():
    p = subprocess.run([sys.executable, "-m", "tfface", "iterative", "transform", "--help"], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0 and "--set NAME=0|1" in p.stdout


def test_output_piped_into_a_reader_that_stops_ends_quietly():
    """``tfface pretrained | head -1``: the reader closes the pipe before the listing is written."""
    p = subprocess.Popen([sys.executable, "-m", "tfface", "pretrained"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=ROOT)
    p.stdout.close()  # before the command has imported anything, so its writes find the pipe closed
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141 and err == ""


@pytest.mark.parametrize("argv,code,message", [
    (["train", "--bogus=1"], 2, "tfface train: error: unrecognized arguments: --bogus=1"),
    (["train", "--image_size=30"], 2, "tfface train: error: --image_size must be a multiple of 16"),
    (["train", "--steps=many"], 2, "tfface train: error: argument --steps: invalid int value: 'many'"),
    (["nonsense"], 2, "tfface: error: argument COMMAND: invalid choice: 'nonsense'"),
    (["export"], 2, "tfface export: error: give one of --run_dir (a training run) or --pretrained NAME"),
    (["export", "--run_dir=/nonexistent/run"], 1, "tfface export: error: not a run directory (no settings.json): /nonexistent/run"),
    (["iterative", "generate", "--run_dir=/nonexistent/run", "--set", "Male"], 2, "--set takes NAME=0 or NAME=1, got 'Male'"),
])
def test_errors_are_one_line_with_the_documented_exit_code(capsys, tmp_path, argv, code, message):
    got, out, err = run_main(capsys, *argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert got == code and len(lines) == 1 and message in lines[0], err


def test_edit_errors(capsys, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(photo)
    code, _, err = run_main(capsys, "edit", "--model", str(tmp_path / "none"), "--input", str(photo), "--output",
                            str(tmp_path / "out.png"))
    assert code == 1 and "model not found" in err
    code, _, err = run_main(capsys, "edit", "--model", str(tmp_path / "none"), "--input", str(photo), "--output",
                            str(tmp_path / "out.gif"))
    assert code == 2 and "unsupported output format '.gif'" in err
    code, _, err = run_main(capsys, "edit", "--model", "m", "--input", str(tmp_path / "missing.jpg"), "--output",
                            str(tmp_path / "out.png"))
    assert code == 1 and "missing.jpg" in err
    code, _, err = run_main(capsys, "edit", "--add", "Smiling", "--input", str(photo), "--output",
                            str(tmp_path / "gone" / "out.png"))
    assert code == 1 and err.strip().endswith(f"the folder {tmp_path / 'gone'} does not exist") and ".tmp-" not in err
    assert sorted(os.listdir(tmp_path)) == ["photo.png"]


def test_bad_train_flags_leave_no_run_directory(capsys, tmp_path):
    code, _, _ = run_main(capsys, "train", f"--run_dir={tmp_path / 'r'}", "--width=9")
    assert code == 2 and not (tmp_path / "r").exists()


def loads_tensorflow(*argv):
    """(exit code, whether TensorFlow was imported) of one command line in a fresh process."""
    code = ("import sys; from tfface import cli; c = cli.main(sys.argv[1:]); "
            "print('TF' if 'tensorflow' in sys.modules else 'no TF'); sys.exit(c)")
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
    return proc.returncode, proc.stdout.strip().splitlines()[-1]


def test_help_and_bad_flags_answer_without_starting_tensorflow():
    assert loads_tensorflow("--help") == (0, "no TF")
    for command in COMMANDS:
        assert loads_tensorflow(command, "--help") == (0, "no TF"), command
    assert loads_tensorflow("train", "--steps=0") == (2, "no TF")
    assert loads_tensorflow("edit", "--input=a.jpg", "--output=b.jpg", "--strength=nan") == (2, "no TF")
    assert loads_tensorflow("pretrained") == (0, "no TF")
