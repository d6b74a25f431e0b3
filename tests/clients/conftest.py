"""Real clients in Node (tus-js-client, a TypeScript client generated from the OpenAPI document), installed from
tests/clients/node/package-lock.json by `make` (npm ci)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "node"


def node_ready(package: str) -> str:
    """The node binary, once the lock file's packages are installed; a skip (a failure in CI) otherwise."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / package).exists():
        message = f"node or {package} is missing (make test runs `npm ci` in tests/clients/node)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return node
