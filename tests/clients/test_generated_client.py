"""A typed TypeScript client generated from the OpenAPI document (openapi-typescript) compiles with
`tsc --strict`: the contract is usable as it is by a mobile team (client.ts reads a work order, edits it with
If-Match, lists customers sorted, and reads a problem's fields)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from flask import Flask

from tests.clients.conftest import NODE_DIR, node_ready


def test_typescript_client_generated_from_the_document_compiles(app: Flask, tmp_path: Path) -> None:
    node = node_ready("openapi-typescript")
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(app.test_client().get("/api/openapi.json").get_json()))
    generated = NODE_DIR / "generated"
    generated.mkdir(exist_ok=True)
    bin_dir = NODE_DIR / "node_modules" / ".bin"
    run = subprocess.run([node, str(bin_dir / "openapi-typescript"), str(spec), "-o", str(generated / "api.d.ts")],
                         cwd=NODE_DIR, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "operations" in (generated / "api.d.ts").read_text()
    tsc = subprocess.run([node, str(bin_dir / "tsc"), "-p", "tsconfig.json"], cwd=NODE_DIR, capture_output=True,
                         text=True, timeout=180)
    assert tsc.returncode == 0, tsc.stdout + tsc.stderr
