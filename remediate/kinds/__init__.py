"""Plugins: resource kinds, handler kinds, precondition kinds; each one Protocol and one registry."""
