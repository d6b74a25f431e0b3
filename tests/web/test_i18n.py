"""Issue 14: one language at a time (zh by default, en by the switch), texts from gettext catalogs that are complete
and compiled as committed, times in the site's or company's zone, and the office's own static files (htmx pinned
by a lock file and checked by its hash; no CDN, no inline script)."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from tests.archive.test_pages import login
from tests.factories import Factory

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "fieldservice" / "translations" / "zh" / "LC_MESSAGES"
VENDOR = ROOT / "fieldservice" / "web" / "static" / "vendor"


def test_every_page_text_has_its_chinese_and_the_compiled_catalog_is_current(tmp_path: Path) -> None:
    """Extract the texts from the source again: each has a zh translation (none fuzzy), and the committed .mo
    holds exactly the .po's translations (`make catalogs` was run after the last edit)."""
    pot = tmp_path / "messages.pot"
    done = subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
                           "-k", "lazy_gettext", "--no-location", "-o", str(pot), "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with pot.open("rb") as fh:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    with (CATALOG / "messages.po").open("rb") as fh:
        po = read_po(fh, locale="zh")
    translated = {(m.id if isinstance(m.id, str) else m.id[0]): m for m in po if m.id}
    missing = sorted(w for w in wanted if w not in translated or not (
        translated[w].string if isinstance(translated[w].string, str) else translated[w].string[0]))
    assert missing == [], missing
    assert not [m.id for m in po if m.id and m.fuzzy]
    def strings(value: object) -> tuple[str, ...]:
        return (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]

    with (CATALOG / "messages.mo").open("rb") as fh:
        mo = {(m.id if isinstance(m.id, str) else m.id[0]): strings(m.string) for m in read_mo(fh) if m.id}
    assert mo == {key: strings(m.string) for key, m in translated.items() if key in mo} and set(mo) >= wanted


def test_one_language_at_a_time_with_the_switch(client: FlaskClient, make: Factory) -> None:
    make.user("dispatcher", username="调度员", password="correct horse battery")
    assert login(client, "调度员").status_code == 302
    zh = client.get("/office/board").get_data(as_text=True)
    assert "派工看板" in zh and "Dispatch board" not in zh and 'lang="zh-CN"' in zh
    switched = client.get("/office/lang/en", query_string={"next": "/office/board"})
    assert switched.status_code == 302 and switched.headers["Location"] == "/office/board"
    en = client.get("/office/board").get_data(as_text=True)
    assert "Dispatch board" in en and "派工看板" not in en and 'lang="en"' in en
    assert "/office/lang/zh" in en
    elsewhere = client.get("/office/lang/zh", query_string={"next": "https://evil.example/"})
    assert elsewhere.headers["Location"] == "/office/"                         # never leaves the office app
    assert "派工看板" in client.get("/office/board").get_data(as_text=True)


def test_office_pages_load_only_their_own_files(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/office/board", headers=headers(role="dispatcher")).get_data(as_text=True)
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == ['<script src="/office/static/vendor/htmx.min.js" defer></script>'.replace("</script>", ""),
                       '<script src="/office/static/office.js" defer>']
    assert re.search(r"<script[^>]*>[^<]+</script>", html) is None                 # nothing inline
    assert "style=" not in html and "http://" not in html and "https://" not in html
    served = client.get("/office/static/vendor/htmx.min.js")
    assert served.status_code == 200 and served.data.startswith(b"var htmx=")


def test_vendored_htmx_is_the_pinned_package() -> None:
    lock = json.loads((ROOT / "fieldservice" / "web" / "assets" / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/htmx.org"]["version"]
    assert version == json.loads((ROOT / "fieldservice" / "web" / "assets" / "package.json").read_text())[
        "dependencies"]["htmx.org"]
    expected = dict(line.split()[::-1] for line in (VENDOR / "SHA256SUMS").read_text().splitlines())
    assert hashlib.sha256((VENDOR / "htmx.min.js").read_bytes()).hexdigest() == expected["htmx.min.js"]
    assert f'version:"{version}"' in (VENDOR / "htmx.min.js").read_text()
