"""The wire: connection settings, the session (pypsrp), what comes back (wire), reading and writing servers with real cmdlets."""
