"""Storage URLs without their passwords: :func:`redact_url`, :func:`scrub_secrets`."""

from __future__ import annotations

__all__ = ["redact_url", "scrub_secrets", "normalise_url"]

import os
import re
from collections.abc import Sequence
from urllib.parse import quote

# --- secrets ---------------------------------------------------------------------------------

_SECRET_QUERY_RE = re.compile(r"([?&][^=&#]*password[^=&#]*=)([^&#]*)", re.IGNORECASE)


_SCHEME_RE = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*:/*)(?P<tail>.*)$", re.DOTALL)


def _split_userinfo(url: str) -> tuple[str, str, str] | None:
    """``(scheme://, userinfo, rest)`` of a URL, the userinfo ending at the *last* ``@``; None without one.

    A password may hold ``@``, ``/``, ``?`` or ``:`` unescaped (``user:p@ss@host``); the last ``@``
    before the query is where the host begins, whatever a URL parser makes of it. A mistyped
    ``scheme:/`` counts as ``scheme://``.
    """
    match = _SCHEME_RE.match(url)
    if match is None:
        return None
    head, tail = match["head"], match["tail"]
    at = tail.split("?", 1)[0].rfind("@")
    if at < 0:
        at = tail.rfind("@")
    if at < 0:
        return None
    return head, tail[:at], tail[at + 1 :]


def normalise_url(url: str) -> str:
    """``url`` with any ``@`` inside its password percent-encoded, as SQLAlchemy needs it.

    ``postgresql://user:p@ss@host/db`` means the password ``p@ss`` at ``host``; SQLAlchemy would
    read the password ``p`` at the host ``ss@host`` and put ``ss`` into its error messages.
    """
    parts = _split_userinfo(url)
    if parts is None or "@" not in parts[1]:
        return url
    head, userinfo, rest = parts
    user, sep, password = userinfo.partition(":")
    return f"{head}{user}{sep}{quote(password, safe='')}@{rest}"


def _secrets(url: str) -> list[str]:
    """The password strings of ``url`` (userinfo and ``password=`` query values), as written and decoded."""
    found = []
    parts = _split_userinfo(url)
    if parts is not None and ":" in parts[1]:
        found.append(parts[1].partition(":")[2])
    found += [m.group(2) for m in _SECRET_QUERY_RE.finditer(url)]
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(normalise_url(url))
        found.append(parsed.password or "")
        found += [v for k, v in parsed.query.items() if "password" in k.lower() and isinstance(v, str)]
    except Exception:  # not a URL SQLAlchemy reads: the textual secrets above are all there is
        pass
    found += [quote(s, safe="") for s in found]
    return sorted({s for s in found if s and s != "***"}, key=len, reverse=True)


def redact_url(url: str | os.PathLike) -> str:
    """``url`` with its password and any ``password=`` query value replaced by ``***``, for messages.

    Uses SQLAlchemy's URL parser; a URL it cannot parse has everything between ``://`` and the last
    ``@`` masked. A path (no ``scheme:``) is returned unchanged.
    """
    text = os.fspath(url)
    if _SCHEME_RE.match(text) is None:
        return text
    shown = None
    if not text.count("@") > 1:
        try:
            from sqlalchemy.engine import make_url

            parsed = make_url(text)
            query = {k: ("***" if "password" in k.lower() else v) for k, v in parsed.query.items()}
            shown = parsed.set(query=query).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
        except Exception:  # not a URL SQLAlchemy reads: mask by hand below
            shown = None
    if shown is None:
        parts = _split_userinfo(text)
        shown = text if parts is None else f"{parts[0]}***@{parts[2]}"
        shown = _SECRET_QUERY_RE.sub(r"\1***", shown)
    return _scrub(shown, _secrets(text))


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
        else:  # a short password only where it stands alone, so a message stays readable
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)
    return text


def scrub_secrets(text: str, url: str | os.PathLike | None) -> str:
    """``text`` (an exception's message) with ``url`` redacted and its password strings masked.

    Database drivers quote the URL or the password they were given; every such occurrence becomes
    ``***`` (see :func:`redact_url`).
    """
    if url is None:
        return text
    raw = os.fspath(url)
    if _SCHEME_RE.match(raw) is None:
        return text
    for form in {raw, normalise_url(raw)}:
        text = text.replace(form, redact_url(raw))
    return _scrub(text, _secrets(raw))
