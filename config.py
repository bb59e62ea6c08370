# pyinfra reads this before the inventory. The runner and the drift check read its
# results through its own JSON builders and state callbacks, which change between versions.
REQUIRE_PYINFRA_VERSION = "==3.10.0"
