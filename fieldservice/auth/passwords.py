"""The password policy (docs/security.md): at least MIN_LENGTH characters, not all whitespace, not one of the
20,000 most common passwords (common-passwords.txt.gz, the list Django bundles, BSD licence in
common-passwords.LICENSE), and neither equal to nor containing the username (nor the username contained in it,
for usernames of three or four characters or more), compared case-insensitively."""
from __future__ import annotations

import functools
import gzip
from pathlib import Path

from fieldservice.errors import ValidationFailed

MIN_LENGTH = 10
MAX_LENGTH = 200
COMMON = Path(__file__).with_name("common-passwords.txt.gz")


@functools.cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def problems(password: str, username: str | None = None) -> list[str]:
    """Why `password` is refused (empty: accepted)."""
    found: list[str] = []
    if len(password) < MIN_LENGTH:
        found.append(f"at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        found.append(f"at most {MAX_LENGTH} characters")
    if not password.strip():
        found.append("not only whitespace")
    lowered = password.strip().lower()
    if lowered in common_passwords() or len(set(lowered)) < 3:
        found.append("too common (on the list of common passwords, or one or two characters repeated)")
    name = (username or "").strip().lower()
    if name and (lowered == name or (len(name) >= 3 and name in lowered) or (len(name) >= 4 and lowered in name)):
        found.append("must not contain the username")
    return found


def check(password: str, username: str | None = None, *, where: str | None = None) -> None:
    """Raise ValidationFailed (422, errors under `password`) unless the password passes the policy."""
    refused = problems(password, username)
    if refused:
        raise ValidationFailed("the password is refused: " + "; ".join(refused),
                               errors={where: {"password": refused}} if where else {"password": refused})
