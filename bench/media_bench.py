"""Media benchmarks (issue 5). Prints figures; not a test.

    .venv/bin/python -m bench.media_bench                        # both parts
    .venv/bin/python -m bench.media_bench thumbnails             # draft-mode thumbnail vs naive decode
    .venv/bin/python -m bench.media_bench upload --sizes 5,20,80 # tus upload through gunicorn

1. Thumbnail of a 12-megapixel JPEG (synthetic photos of ~3 MB and ~6 MB): `media.images.make_variant`
   (JPEG draft mode: libjpeg scales while decoding) against `naive_thumbnail` (full decode, then resize),
   same run, median of --repeat runs each, for the 256 px and 1280 px sizes.
2. Upload of an N MB JPEG in 1 MB tus chunks (each with Upload-Checksum) against gunicorn (one sync worker,
   production config, SQLite and MEDIA_ROOT in a temp folder): MB/s from creation to the last response, and
   the worker's RSS before the upload against its peak (VmHWM, reset just before the upload) during it.
   Processing is deferred (MEDIA_PROCESSING=deferred) to measure the upload path alone; one extra run with
   inline processing shows what decoding the image for thumbnails costs on top.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MB = 1024 * 1024


# --- 1. thumbnails -----------------------------------------------------------------------------------------


def synthetic_photo(path: Path, *, noise: float, size: tuple[int, int] = (4000, 3000)) -> None:
    """Gradients plus sensor-like gaussian noise (sigma `noise`), saved like a phone would (quality 90, 4:2:0).

    The noise sets the compressed size, and the compressed size sets the floor for any JPEG decode: draft
    mode skips most of the IDCT and colour work but still entropy-decodes every byte.
    """
    horizontal = Image.linear_gradient("L").resize(size)
    radial = Image.radial_gradient("L").resize(size)
    grain = Image.effect_noise(size, noise)
    channels = (ImageChops.add(horizontal, grain, 2, -32), ImageChops.add(radial, grain, 2, -20),
                ImageChops.add(horizontal.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grain, 2, -10))
    Image.merge("RGB", channels).save(path, format="JPEG", quality=90)


def _median_seconds(action: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


PHOTOS = (("typical phone photo", 10.0), ("noisy low-light photo", 40.0))


def bench_thumbnails(repeat: int) -> None:
    from media.images import make_variant, naive_thumbnail

    print(f"## Thumbnail of a 12 MP JPEG: draft mode (make_variant) vs full decode + resize (naive_thumbnail), "
          f"median of {repeat}")
    print(f"{'source':>32} {'max side':>8} {'draft mode':>10} {'naive':>8} {'ratio':>6}")
    with tempfile.TemporaryDirectory(prefix="media-bench-") as tmp:
        for label, noise in PHOTOS:
            src = Path(tmp) / "photo-12mp.jpg"
            synthetic_photo(src, noise=noise)
            with Image.open(src) as img:
                width, height = img.size
            name = f"{label} {width}x{height} {src.stat().st_size / MB:.1f} MB"
            for side in (256, 1280):
                out = Path(tmp) / f"thumb-{side}.jpg"
                draft = _median_seconds(lambda: make_variant(src, out, max_side=side), repeat)  # noqa: B023
                naive = _median_seconds(lambda: naive_thumbnail(src, out, side), repeat)  # noqa: B023
                print(f"{name:>32} {side:>8} {draft * 1000:>8.0f}ms {naive * 1000:>6.0f}ms {naive / draft:>5.1f}x")


# --- 2. upload through gunicorn ----------------------------------------------------------------------------


def jpeg_of_about(megabytes: float, path: Path, seed: int) -> None:
    """A JPEG of random pixels (quality 100, no chroma subsampling: ~4.1 bytes per pixel) of about that size."""
    pixels = int(megabytes * MB / 4.1)
    width = int((pixels * 4 / 3) ** 0.5)
    height = pixels // width
    img = Image.frombytes("RGB", (width, height), random.Random(seed).randbytes(width * height * 3))
    img.save(path, format="JPEG", quality=100, subsampling=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status_kib(pid: int, field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, `echo 5 > /proc/<pid>/clear_refs`), so the next reading
    is the peak of what follows and not of start-up. False where not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


@contextmanager
def gunicorn_server(workdir: Path, processing: str) -> Iterator[tuple[str, int]]:
    """One sync gunicorn worker on a free loopback port, on a fresh SQLite database with the demo data."""
    env = {
        **os.environ, "FIELDSERVICE_ENV": "production", "SECRET_KEY": "bench-secret",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}", "MEDIA_ROOT": str(workdir / "media"),
        "MEDIA_PROCESSING": processing, "MEDIA_MAX_UPLOAD_BYTES": str(512 * MB),
        "MEDIA_SESSION_QUOTA_BYTES": str(4096 * MB), "LOG_LEVEL": "WARNING", "FLASK_APP": "wsgi",
    }
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run([str(BIN / "flask"), *command], env=env, cwd=ROOT, check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "1", "--worker-class", "sync", "--timeout", "300",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet, or busy importing
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def tus_upload(base: str, auth: dict[str, str], work_order_id: str, path: Path, chunk: int) -> tuple[float, float]:
    """Upload `path` in `chunk`-byte PATCHes, each with its sha256. Returns (total seconds, last PATCH seconds)."""
    size = path.stat().st_size
    meta = {"work_order_id": work_order_id, "kind": "installed_unit", "filetype": "image/jpeg"}
    encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    headers = {**auth, "Tus-Resumable": "1.0.0"}
    session = requests.Session()
    start = time.perf_counter()
    created = session.post(f"{base}/api/v1/uploads", timeout=60,
                           headers={**headers, "Upload-Length": str(size), "Upload-Metadata": encoded})
    created.raise_for_status()
    url = base + created.headers["Location"]
    offset, last = 0, 0.0
    with open(path, "rb") as fh:
        while offset < size:
            piece = fh.read(chunk)
            digest = base64.b64encode(hashlib.sha256(piece).digest()).decode()
            sent = time.perf_counter()
            response = session.patch(url, data=piece, timeout=300, headers={
                **headers, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
                "Upload-Checksum": f"sha256 {digest}"})
            last = time.perf_counter() - sent
            if response.status_code != 204:
                raise RuntimeError(f"PATCH at {offset}: {response.status_code} {response.text}")
            offset = int(response.headers["Upload-Offset"])
    return time.perf_counter() - start, last


def measure_upload(megabytes: float, chunk: int, processing: str, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="media-bench-") as tmp:
        work = Path(tmp)
        source, warm = work / f"upload-{megabytes}.jpg", work / "warm.jpg"
        jpeg_of_about(megabytes, source, seed)
        jpeg_of_about(0.1, warm, seed + 1000)
        with gunicorn_server(work, processing) as (base, master):
            token = requests.post(f"{base}/api/v1/auth/token", timeout=30,
                                  json={"username": "admin", "password": "keys-demo-pass"}).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            order = requests.get(f"{base}/api/v1/work-orders", headers=auth, timeout=30).json()["items"][0]["id"]
            tus_upload(base, auth, order, warm, chunk)  # imports Pillow & co, so the baseline includes them
            workers = worker_pids(master)
            before = max(proc_status_kib(pid, "VmRSS") for pid in workers)
            if not all(reset_peak_rss(pid) for pid in workers):
                print("  (cannot reset VmHWM: the peak may date from start-up)")
            seconds, last = tus_upload(base, auth, order, source, chunk)
            after = max(proc_status_kib(pid, "VmHWM") for pid in workers)
        size = source.stat().st_size
        with Image.open(source) as img:
            pixels = img.size[0] * img.size[1]
    return {"size": size, "pixels": pixels, "seconds": seconds, "last": last, "before": before, "after": after,
            "processing": processing}


def bench_upload(sizes: list[float], chunk_mb: float) -> None:
    chunk = int(chunk_mb * MB)
    print(f"## tus upload through gunicorn (1 sync worker), {chunk_mb:g} MB chunks with Upload-Checksum")
    print(f"{'file':>9} {'pixels':>7} {'processing':>10} {'total':>7} {'MB/s':>6} {'last PATCH':>10} "
          f"{'worker RSS before -> peak during upload':>40}")
    runs = [(size, "deferred") for size in sizes] + [(20.0, "inline")]
    for seed, (size, processing) in enumerate(runs):
        r = measure_upload(size, chunk, processing, seed)
        print(f"{r['size'] / MB:>7.1f}MB {r['pixels'] / 1e6:>5.1f}MP {r['processing']:>10} {r['seconds']:>6.2f}s "
              f"{r['size'] / MB / r['seconds']:>6.1f} {r['last']:>9.2f}s "
              f"{r['before'] / 1024:>25.1f} MB -> {r['after'] / 1024:.1f} MB (+{(r['after'] - r['before']) / 1024:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", metavar="{thumbnails,upload}", help="default: both")
    parser.add_argument("--repeat", type=int, default=5, help="thumbnail runs per variant (median)")
    parser.add_argument("--sizes", default="5,20,80", help="upload sizes in MB, comma-separated")
    parser.add_argument("--chunk-mb", type=float, default=1.0)
    args = parser.parse_args()
    parts = args.parts or ["thumbnails", "upload"]
    unknown = set(parts) - {"thumbnails", "upload"}
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    if "thumbnails" in parts:
        bench_thumbnails(args.repeat)
        print()
    if "upload" in parts:
        bench_upload([float(s) for s in args.sizes.split(",")], args.chunk_mb)


if __name__ == "__main__":
    main()
