"""Sub-commands of the `segstudio` CLI, one module per area (see segstudio.cli)."""
