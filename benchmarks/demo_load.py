"""Load on `tfface demo`: N concurrent edit requests from gradio_client over loopback.

    python benchmarks/demo_load.py [--requests 16] [--bundle DIR] [--photo astronaut]

Starts the demo in a fresh process (``TFFACE_PRETRAINED=--bundle`` if given, else the installed
bundle), sends ``--requests`` requests at once (each "add" on the first bundled attribute at strength
0.7 on skimage's astronaut photo, 512 x 512), and prints the p50/p95 latency per request, requests per
second over the burst, and the server's peak RSS (VmHWM).  Nothing is asserted; see BENCHMARKS.md.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--bundle", default=None, help="a bundle directory (default: the installed one)")
    a = ap.parse_args()
    from gradio_client import Client, handle_file
    from PIL import Image
    from skimage import data as skdata

    env = dict(os.environ)
    if a.bundle:
        env["TFFACE_PRETRAINED"] = a.bundle
    with open(os.path.join(a.bundle or os.path.join(ROOT, "tfface", "pretrained"), "registry.json")) as f:
        attribute = json.load(f)["editors"][0]["attribute"]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tfface", "demo", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        photo = os.path.join(tempfile.mkdtemp(), "astronaut.png")
        Image.fromarray(skdata.astronaut()).save(photo)
        client = Client(url, verbose=False)
        client.predict(handle_file(photo), False, "add", 0.7, api_name="/run")  # warm-up (tracing)

        def one(_):
            t0 = time.perf_counter()
            client.predict(handle_file(photo), False, "add", 0.7, api_name="/run")
            return time.perf_counter() - t0

        t0 = time.perf_counter()
        with ThreadPoolExecutor(a.requests) as pool:
            latencies = np.array(list(pool.map(one, range(a.requests))))
        wall = time.perf_counter() - t0
        print(f"{a.requests} concurrent requests ({attribute}, add 0.7, 512x512): p50 {np.median(latencies):.2f} s, "
              f"p95 {np.percentile(latencies, 95):.2f} s, {a.requests / wall:.2f} requests/s, server peak RSS "
              f"{peak_rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
