# pyinfra reads this before the inventory: its text output changes between versions,
# and the drift checks and tests read it.
REQUIRE_PYINFRA_VERSION = "==3.10.0"
