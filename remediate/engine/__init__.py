"""Read, decide, do: the planner, applying, undoing, the journal and the locks."""
