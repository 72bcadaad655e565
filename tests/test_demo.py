"""`tfface demo` in a real browser (headless Chromium from Debian's packages, driven by Selenium)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from tests.training.cli import ROOT, TINY, run

skimage = pytest.importorskip("skimage.data")
pytest.importorskip("dlib")
pytest.importorskip("gradio")

from tfface import pretrained  # noqa: E402
from tfface.pretrained import building  # noqa: E402
from tfface.faces import detect_faces  # noqa: E402
from tfface.editors import KerasEditor  # noqa: E402
from tfface.photo import edit_face  # noqa: E402

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    """A tiny Eyeglasses editor whose residual is plainly visible: a few training steps, then the generators'
    output layers scaled up (a barely trained editor's residual rounds away at strength 0.7)."""
    base = tmp_path_factory.mktemp("demo")
    rd = base / "run"
    proc = run(*TINY, "--steps=2", "--residual_init=normal", f"--run_dir={rd}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    bundle = base / "bundle"
    building.bundle(str(rd), "glasses", directory=str(bundle), variants=("float16",), report_images=4,
                      say=lambda m: None)
    trained = building.load(pretrained.entries(str(bundle))[0], str(bundle))
    for g in (trained.model.g0, trained.model.g1):
        last = [layer for layer in g.layers if layer.weights][-1]
        last.set_weights([w * 30.0 for w in last.get_weights()])
    building.save_networks((trained.model.g0, trained.model.g1), str(bundle / "glasses" / pretrained.WEIGHTS))
    return bundle


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(bundle_dir, tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("log") / "demo.log", "w+")
    env = {**os.environ, "TFFACE_PRETRAINED": str(bundle_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "tfface", "demo", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                log.seek(0)
                proc.kill()
                pytest.fail(f"the demo did not start: {log.read()[-3000:]}")
            time.sleep(1)
    yield url, proc
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM and CHROMEDRIVER):
        # Loud on purpose: .ci/run installs chromium and chromium-driver, so this only happens elsewhere.
        pytest.skip("BROWSER TEST SKIPPED: no chromium/chromedriver (apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1200", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_edit_a_photo_in_the_browser(server, browser, bundle_dir, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    photo = skimage.astronaut()
    src = tmp_path / "astronaut.png"
    Image.fromarray(photo).save(src)
    browser.get(url)
    wait = WebDriverWait(browser, 120)
    upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#photo input[type=file]")))
    upload.send_keys(str(src))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#photo img")))
    browser.find_element(By.CSS_SELECTOR, "#choice-Eyeglasses input[value=remove]").click()
    number = browser.find_element(By.CSS_SELECTOR, "#strength-Eyeglasses input[type=number]")
    number.send_keys(Keys.CONTROL, "a")
    number.send_keys("0.7", Keys.TAB)
    browser.find_element(By.CSS_SELECTOR, "#edit").click()
    wait.until(lambda d: "Edited 1 face(s)" in d.find_element(By.CSS_SELECTOR, "#status").text)
    status = browser.find_element(By.CSS_SELECTOR, "#status").text
    browser.save_screenshot(str(tmp_path / "demo.png"))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#download"))).click()
    wait.until(lambda d: [f for f in os.listdir(downloads) if f.endswith(".png")])
    (name,) = [f for f in os.listdir(downloads) if f.endswith(".png")]
    edited = np.asarray(Image.open(downloads / name).convert("RGB"))
    assert edited.shape == photo.shape, "the download is the full-size photo"
    assert "remove Eyeglasses (0.7)" in status
    # Pixels outside the edited face region are unchanged; inside, they changed.
    run_ = building.load(pretrained.entries(str(bundle_dir))[0], str(bundle_dir))
    (box, left, right), = detect_faces(photo)
    _, (x0, y0, x1, y1) = edit_face(photo, KerasEditor(run_.model.g1, 32), left, right, 0.7)
    changed = np.abs(edited.astype(int) - photo).max(axis=-1) > 0
    assert changed[y0:y1, x0:x1].mean() > 0.2
    changed[y0:y1, x0:x1] = False
    assert not changed.any(), "pixels outside the face region changed"
    # Offline: everything the page loaded came from the app itself (no CDN, fonts or analytics).
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    elsewhere = [u for u in loaded if not u.startswith(url) and not u.startswith(("data:", "blob:"))]
    assert loaded and not elsewhere, elsewhere
    assert os.path.getsize(tmp_path / "demo.png") > 10_000


def test_clear_messages_for_no_face_and_unreadable_files(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((300, 400, 3), 128, np.uint8)).save(blank)
    browser.get(url)
    wait = WebDriverWait(browser, 120)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#photo input[type=file]"))).send_keys(str(blank))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#photo img")))
    browser.find_element(By.CSS_SELECTOR, "#choice-Eyeglasses input[value=add]").click()
    browser.find_element(By.CSS_SELECTOR, "#edit").click()
    wait.until(lambda d: "No face found in this photo" in d.find_element(By.TAG_NAME, "body").text)


def test_each_request_gets_files_of_its_own_and_old_ones_are_deleted(bundle_dir, tmp_path):
    from tfface import demo

    run_ = building.load(pretrained.entries(str(bundle_dir))[0], str(bundle_dir))
    editors = {"Eyeglasses": {"add": KerasEditor(run_.model.g0, 32), "remove": KerasEditor(run_.model.g1, 32)}}
    src = tmp_path / "astronaut.png"
    Image.fromarray(skimage.astronaut()).save(src)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / "edited-old.png"
    stale.write_bytes(b"x")
    os.utime(stale, (time.time() - 2 * demo.KEEP_OUTPUTS_SECONDS,) * 2)
    first = demo.edit_request(editors, str(src), False, [("add", 0.7)], str(out))
    second = demo.edit_request(editors, str(src), False, [("add", 0.7)], str(out))
    # Two requests of the same photo share no file: the server never rewrites a file another request reads.
    assert set(first[:3]).isdisjoint(second[:3])
    for before, after, path, _ in (first, second):
        assert np.asarray(Image.open(before)).shape == np.asarray(Image.open(after)).shape == (512, 512, 3)
        assert np.asarray(Image.open(path)).shape == (512, 512, 3)
    assert not stale.exists(), "an hour-old output is deleted"
    assert len(os.listdir(out)) == 6


def peak_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def test_sixteen_concurrent_requests_all_succeed_within_the_memory_bound(server, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client, handle_file

    url, proc = server
    photo = skimage.astronaut()
    src = tmp_path / "astronaut.png"
    Image.fromarray(photo).save(src)
    client = Client(url, verbose=False)

    def one(i):
        before_after, download, message = client.predict(handle_file(str(src)), False, "add", 0.5 + 0.05 * i,
                                                         api_name="/run")
        return message, np.asarray(Image.open(download if isinstance(download, str) else download["value"]))

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    for i, (message, edited) in enumerate(results):
        assert f"add Eyeglasses ({0.5 + 0.05 * i:g})" in message and edited.shape[:2] == photo.shape[:2]
    stronger = [np.abs(e.astype(int) - photo).sum() for _, e in results]
    assert stronger[-1] > stronger[0], "each request used its own strength"
    assert peak_rss_bytes(proc.pid) < 2 * 2**30, "the queue bounds concurrency, so memory stays under 2 GB"
