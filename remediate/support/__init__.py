"""Below everything: errors, logs, the state directory, YAML and XML, builds. Imports nothing of remediate."""
