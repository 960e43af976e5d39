"""Data read from files and shown to people: playbooks, the catalog, inventories, plans, saved plans."""
