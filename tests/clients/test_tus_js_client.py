"""tus-js-client 4 (the reference JavaScript client) uploads photos in Node against the running server: a
resume after a lost signal, and `overridePatchMethod` (POST + X-HTTP-Method-Override: PATCH); every answer
carries Tus-Resumable."""
from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from fieldservice.extensions import db
from fieldservice.photos.models import Photo
from tests.clients.conftest import NODE_DIR, node_ready
from tests.factories import Factory
from tests.photos.conftest import noisy_jpeg_bytes, sha256


def test_tus_js_client_resumes_and_overrides_patch(app: Flask, make: Factory, live_url: str,
                                                   tmp_path: Path) -> None:
    node = node_ready("tus-js-client")
    job = make.dispatched_job()
    files = {}
    for name, seed in (("a.jpg", 1), ("b.jpg", 2)):
        files[name] = noisy_jpeg_bytes((240, 180), seed=seed)
        (tmp_path / name).write_bytes(files[name])
    assert len(files["a.jpg"]) > 32 * 1024  # more than two chunks of 16 KiB
    env = {**os.environ, "BASE_URL": live_url, "TOKEN": make.token(job.technician.user_id),
           "VISIT_ID": str(job.visit.id), "FILE": str(tmp_path / "a.jpg"), "FILE2": str(tmp_path / "b.jpg")}
    run = subprocess.run([node, "tus.js"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    steps = {s["step"]: s for s in (json.loads(line) for line in run.stdout.splitlines() if line.startswith("{"))}

    resumed = steps["resumed"]
    methods = [s[0] for s in resumed["statuses"]]
    assert methods[0] == "HEAD" and set(methods[1:]) == {"PATCH"}  # asked where to resume, then went on
    override = steps["override"]
    assert [s[0] for s in override["statuses"]][0] == "POST"
    patches = [s for s in override["statuses"][1:]]
    assert patches and all(s[0] == "POST" and s[3] == "PATCH" and s[1] == 204 for s in patches)
    assert all(s[2] == "1.0.0" for s in resumed["statuses"] + override["statuses"])
    with app.app_context():
        photos = {str(p.id): p for p in db.session.scalars(sa.select(Photo))}
        assert photos[resumed["photo_id"]].sha256 == sha256(files["a.jpg"])
        assert photos[override["photo_id"]].sha256 == sha256(files["b.jpg"])
        assert len(photos) == 2
    assert uuid.UUID(resumed["photo_id"])
