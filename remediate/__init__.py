"""remediate: apply fixes to Microsoft Exchange servers over WinRM, safely."""

from __future__ import annotations

__version__ = "0.1.0"
