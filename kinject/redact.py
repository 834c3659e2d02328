"""Credentials in URLs never reach a terminal, a log or a published file.

A ``base_url`` such as ``https://user:password@host/v1`` carries its password in the URL itself; every place that
prints or records a URL (recipe provenance, ``pipeline.yaml``, error messages, tracebacks) passes its text through
``redact_urls``. API keys are never in a URL here: they come from the environment variable the recipe names.
"""

from __future__ import annotations

import re

# scheme://userinfo@ — userinfo cannot contain "/", "@" or whitespace (RFC 3986 section 3.2.1).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"]+)@")


def redact_urls(text: str) -> str:
    """``https://user:secret@host/v1`` → ``https://***@host/v1`` wherever a URL with credentials occurs in text."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)
