"""Everything that runs without a screen. Never imports Qt (checked by import-linter and a test)."""
