import json
import os
import signal
import subprocess
import time

import pytest

from tests.training.cli import TINY, assert_same_tensors, checkpoint_tensors, command, error_lines, run
from tfface.settings import Settings

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("args,code,message", [
    (["--image_size=30"], 2, "--image_size must be a multiple of 16"),
    (["--bogus=1"], 2, "unrecognized arguments: --bogus=1"),
    (["--method=gan"], 2, "argument --method: invalid choice: 'gan'"),
    (["--steps=0"], 2, "--steps must be >= 1"),
    (["--strategy=mirrored", "--batch_size=5"], 2, "must be divisible by --replicas"),
    (["--data=imagenet"], 2, "--data must be one of: synthetic, celeba:"),
    (["--attribute=Wings"], 2, "unknown synthetic attribute 'Wings'; valid: Eyeglasses, Smiling"),
    (["--data=celeba:/nonexistent/celeba"], 1, "CelebA directory not found: /nonexistent/celeba"),
])
def test_bad_flags_give_one_line_errors(tmp_path, args, code, message):
    proc = run(*TINY, f"--run_dir={tmp_path}/r", *args)
    assert proc.returncode == code, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and message in errors[0], proc.stderr[-2000:]
    assert proc.stderr.strip() == errors[0], "nothing but the one line (no TensorFlow start-up noise)"
    assert not os.path.exists(f"{tmp_path}/r/checkpoints") or not os.listdir(f"{tmp_path}/r/checkpoints")


def test_run_directory_contents_and_reload(tmp_path):
    rd = tmp_path / "run"
    proc = run(*TINY, "--steps=4", f"--run_dir={rd}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "step 2/4" in proc.stdout and "step 4/4" in proc.stdout
    s = Settings.load(rd / "settings.json")
    assert (s.image_size, s.width, s.steps, s.alpha, s.beta) == (32, 0.125, 4, 5e-4, pytest.approx(5e-5))
    assert sorted(os.listdir(rd / "samples")) == ["step_000004.png"]
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(rd / "logs"))
    m = json.loads((rd / "metrics.json").read_text())
    for direction in ("add", "remove"):
        assert set(m[direction]["model"]) == {"psnr", "psnr_in_mask", "psnr_outside_mask"}
        assert m[direction]["do_nothing"]["psnr_outside_mask"] == 100.0
    assert m["training"]["steps"] == 4
    # Same command again: nothing to do, metrics kept.
    again = run(*TINY, "--steps=4", f"--run_dir={rd}")
    assert again.returncode == 0 and "already trained to step 4" in again.stdout
    # A different model in the same directory is refused.
    other = run(*TINY, "--steps=4", "--width=0.25", f"--run_dir={rd}")
    assert other.returncode == 2 and "different settings: width=0.125 (now 0.25)" in error_lines(other.stderr)[0]


def test_resume_after_sigkill_is_bitwise_identical(tmp_path):
    args = [*TINY, "--steps=60", "--checkpoint_every=4", "--deterministic"]
    ref = run(*args, f"--run_dir={tmp_path}/ref")
    assert ref.returncode == 0, ref.stderr[-3000:]

    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen(command(*args, f"--run_dir={killed_dir}"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = killed_dir / "checkpoints" / "checkpoint"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if state.exists() and "ckpt-8" in state.read_text():
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    resumed = run(*args, f"--run_dir={killed_dir}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming at step" in resumed.stdout
    assert_same_tensors(checkpoint_tensors(tmp_path / "ref"), checkpoint_tensors(killed_dir))


def test_a_run_saved_before_g_layers_existed_resumes_with_its_own_layout(tmp_path):
    # Runs made before the fused upsampling blocks have settings.json without g_layers and checkpoints that
    # name G's layers by position in the separate layout: they must resume (and load) in that layout.
    args = [*TINY, "--steps=4", "--checkpoint_every=2", "--deterministic"]
    ref = run(*args, "--g_layers=separate", f"--run_dir={tmp_path}/ref")
    assert ref.returncode == 0, ref.stderr[-3000:]
    old = tmp_path / "old"
    first = run(*args[:-3], "--steps=2", "--checkpoint_every=2", "--deterministic", "--g_layers=separate", f"--run_dir={old}")
    assert first.returncode == 0, first.stderr[-3000:]
    saved = json.loads((old / "settings.json").read_text())
    del saved["g_layers"]
    (old / "settings.json").write_text(json.dumps(saved))
    resumed = run(*args, f"--run_dir={old}")  # today's default is fused: the run keeps separate
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming at step 2" in resumed.stdout
    assert_same_tensors(checkpoint_tensors(tmp_path / "ref"), checkpoint_tensors(old))


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    rd = tmp_path / "run"
    assert run(*TINY, "--steps=4", f"--run_dir={rd}").returncode == 0
    ckdir = rd / "checkpoints"
    before = {f: (ckdir / f).read_bytes() for f in os.listdir(ckdir)}
    metrics_before = (rd / "metrics.json").read_bytes()
    proc = run(*TINY, "--steps=12", "--learning_rate=1e30", f"--run_dir={rd}")
    assert proc.returncode == 3, proc.stderr[-3000:]
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and "became" in errors[0] and "last good checkpoint (step 4)" in errors[0]
    assert "Traceback" not in proc.stderr
    assert {f: (ckdir / f).read_bytes() for f in os.listdir(ckdir)} == before
    assert (rd / "metrics.json").read_bytes() == metrics_before


@pytest.mark.parametrize("method", ["residual", "iterative"])
@pytest.mark.parametrize("extra", [["--strategy=mirrored"], ["--mixed_precision=bfloat16"], ["--mixed_precision=float16"]])
def test_strategies_and_precisions_run_end_to_end(tmp_path, method, extra):
    own = ["--z_dim=8", "--baseline_steps=0"] if method == "iterative" else []
    proc = run(*TINY, "--steps=4", f"--method={method}", *own, f"--run_dir={tmp_path}/r", *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if "--strategy=mirrored" in extra:
        assert "2 replica(s)" in proc.stdout
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["training"]["steps"] == 4


def test_a_damaged_newest_checkpoint_falls_back_to_an_intact_one(tmp_path):
    rd = tmp_path / "run"
    assert run(*TINY, "--steps=4", f"--run_dir={rd}").returncode == 0
    ckdir = rd / "checkpoints"
    data = next(ckdir.glob("ckpt-4.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    from tests.export.test_export import export

    ex = export(f"--run_dir={rd}", f"--out={tmp_path / 'export'}", "--formats=saved_model")
    assert ex.returncode == 0, ex.stderr[-2000:]
    assert "checkpoint: skipped damaged ckpt-4 (" in ex.stdout and "using ckpt-2" in ex.stdout
    assert sorted(p.name for p in (ckdir / "damaged").iterdir()) == ["ckpt-4.data-00000-of-00001", "ckpt-4.index"]
    resumed = run(*TINY, "--steps=6", f"--run_dir={rd}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming at step 2" in resumed.stdout
    assert (ckdir / "damaged" / data.name).exists(), "the damaged checkpoint is kept"
    for f in ckdir.glob("ckpt-*.index"):
        f.write_bytes(b"garbage")
    broken = run(*TINY, "--steps=8", f"--run_dir={rd}")
    assert broken.returncode == 1 and "restores" in error_lines(broken.stderr)[0] and "Traceback" not in broken.stderr


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_a_checkpoint_then_exits(tmp_path, sig, code):
    rd = tmp_path / "run"
    args = [*TINY, "--steps=100000", "--checkpoint_every=100000", "--sample_every=100000", f"--run_dir={rd}"]
    proc = subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    for line in proc.stdout:  # progress lines every 2 steps
        if line.startswith("step 6/") or time.time() > deadline:
            break
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err[-2000:]
    errors = error_lines(err)
    assert len(errors) == 1 and "checkpoint saved" in errors[0] and "Traceback" not in err
    step = int(errors[0].split(" at step ", 1)[1].split(":", 1)[0])
    assert step >= 6 and (rd / "checkpoints" / f"ckpt-{step}.index").is_file()
    resumed = run(*TINY, f"--steps={step + 2}", f"--run_dir={rd}")
    assert resumed.returncode == 0 and f"resuming at step {step}" in resumed.stdout


def test_two_trainings_of_one_run_directory_cannot_interleave(tmp_path):
    rd = tmp_path / "run"
    args = [*TINY, "--steps=100000", "--checkpoint_every=100000", "--sample_every=100000", f"--run_dir={rd}"]
    first = subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in first.stdout:
            if line.startswith("step 2/"):
                break
        second = run(*args)
        errors = error_lines(second.stderr)
        assert second.returncode == 2 and len(errors) == 1, second.stderr[-2000:]
        assert f"is being trained by another process (pid {first.pid})" in errors[0]
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=120)
    assert first.returncode == 143


def test_divergence_before_any_checkpoint_says_none_exists(tmp_path):
    rd = tmp_path / "run"
    proc = run(*TINY, "--steps=6", "--checkpoint_every=100", "--learning_rate=1e30", f"--run_dir={rd}")
    errors = error_lines(proc.stderr)
    assert proc.returncode == 3 and len(errors) == 1, proc.stderr[-2000:]
    assert "no checkpoint had been saved yet" in errors[0] and "step 0" not in errors[0]


def test_judge_every_records_quality_against_training_time_across_a_resume(tmp_path):
    rd = tmp_path / "run"
    # 64 px: the size of the shipped synthetic judge, so flip rates are measured.
    args = [*TINY, "--image_size=64", "--judge_every=2", "--eval_images=6", f"--run_dir={rd}"]
    first = run(*args, "--steps=4")
    assert first.returncode == 0, first.stderr[-3000:]
    clock = json.loads((rd / "clock.json").read_text())
    assert clock["step"] == 4 and clock["train_seconds"] > 0
    # Pretend the run had measured beyond its last checkpoint (killed after it): that line goes on resume.
    with open(rd / "progress.jsonl", "a") as f:
        f.write(json.dumps({"step": 5, "train_seconds": 1e9}) + "\n")
    second = run(*args, "--steps=6")
    assert second.returncode == 0, second.stderr[-3000:]
    records = [json.loads(line) for line in (rd / "progress.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]
    seconds = [r["train_seconds"] for r in records]
    assert 0 < seconds[0] < seconds[1] < seconds[2], "training time continues across the resume"
    assert seconds[2] - seconds[1] < seconds[1] + 60, "the time spent judging and the restart is not counted"
    for r in records:
        for direction in ("add", "remove"):
            e = r[direction]
            assert e["images"] == 6 and 0 <= e["flip_rate"] <= 1 and e["mean_abs_residual"] >= 0
            assert e["identity_median"] is not None and e["identity_median"] >= 0
            assert 0 <= e["d_target"] <= 1 and 0 <= e["d_generated"] <= 1 and 0 <= e["d_real_recall"] <= 1
