"""Scripts the deploy installs on the host (layout.STATE_DIR) and runs there, with the
host's python3: standard library only, so they run before any virtualenv exists."""
