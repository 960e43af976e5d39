"""XPath text rewritten before it is evaluated."""

from __future__ import annotations

import re

_PREDICATE = re.compile(
    r"""\[@(?P<name>[A-Za-z_][\w.-]*)\s*=\s*(?P<quote>['"])(?P<value>[^'"]*)(?P=quote)\]"""
)
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = str.maketrans(_UPPER, _UPPER.lower())


def caseless(xpath: str) -> str:
    """`xpath` with each `[@name='value']` predicate comparing without case (ASCII letters):
    `[translate(@name,'AB..','ab..')='value']`."""

    def lowered(match: re.Match[str]) -> str:
        value = match["value"].translate(_LOWER)
        return f"[translate(@{match['name']},'{_UPPER}','{_UPPER.lower()}')='{value}']"

    return _PREDICATE.sub(lowered, xpath)
