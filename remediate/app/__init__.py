"""Use cases the CLI calls: plan, apply, apply a saved plan, roll back, discover; the fleet of servers."""
