"""OSCAR's service token: `Authorization: Bearer <OSCAR_SERVICE_TOKEN>` on /run and /job.

(And on every invocation path with `token_on_every_path`; which paths need it is
the app's routing, `fwatchdog.app`.)

Compared in constant time (hmac.compare_digest), so the answer's timing says
nothing about how much of a guess was right.
"""

from __future__ import annotations

import hmac
from typing import Optional


def token_accepted(expected: str, authorization: Optional[str]) -> bool:
    """True when no token is configured, or the header carries exactly that bearer token."""
    if not expected:
        return True
    scheme, _, presented = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        # Still compare, so a missing or malformed header takes as long as a wrong token.
        hmac.compare_digest(expected.encode(), b"")
        return False
    return hmac.compare_digest(expected.encode(), presented.strip().encode())
