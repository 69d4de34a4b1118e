"""Start-up time of `gatehouse serve`: from exec to the first accepted request (GET /health
answered), over N runs, on an existing data folder and on a fresh one. Prints medians."""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def one_start(binary: str, data_dir: str) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        while not line.startswith("gatehouse listening on "):
            line = proc.stdout.readline()
        url = line.strip().removeprefix("gatehouse listening on ")
        with urllib.request.urlopen(url + "/health", timeout=5) as response:
            response.read()
        return time.perf_counter() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def main() -> None:
    binary, existing, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    warm = [one_start(binary, existing) for _ in range(runs)]
    fresh = []
    for _ in range(runs):
        folder = tempfile.mkdtemp()
        try:
            fresh.append(one_start(binary, os.path.join(folder, "data")))
        finally:
            shutil.rmtree(folder)
    print(f"start-up to first request, existing SQLite data folder (median of {runs}): {statistics.median(warm) * 1000:.1f} ms")
    print(f"start-up to first request, fresh data folder (median of {runs}): {statistics.median(fresh) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
