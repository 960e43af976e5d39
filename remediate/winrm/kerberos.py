"""The caller's Kerberos ticket cache (MIT Kerberos through gssapi): whom it holds a ticket for.

A Windows administrator's logon, or `kinit` on a Linux control node, leaves a ticket-granting
ticket in the cache (KRB5CCNAME); with it, remediate logs on with no password. gssapi comes
with `pip install remediate[kerberos]`, which builds against MIT Kerberos (libkrb5-dev).
"""

from __future__ import annotations


def principal_for(username: str | None) -> str | None:
    """The Kerberos principal `username` names (user@domain as user@DOMAIN), or None when it
    is not one (DOMAIN\\user names an account, not a principal)."""
    if not username or "\\" in username or "@" not in username:
        return None
    user, _, realm = username.rpartition("@")
    return f"{user}@{realm.upper()}"


def cached_principal(username: str | None = None) -> str | None:
    """The principal the ticket cache holds a valid ticket for: `username`'s if it names one,
    else the cache's default principal. None without gssapi, a cache, or a valid ticket."""
    try:
        import gssapi
        from gssapi.exceptions import GSSError
    except ImportError:
        return None
    wanted = principal_for(username)
    try:
        name = gssapi.Name(wanted, gssapi.NameType.kerberos_principal) if wanted else None
        credentials = gssapi.Credentials(name=name, usage="initiate")
        if not credentials.lifetime:
            return None
        return str(credentials.name)
    except GSSError:
        return None
