"""Waiting for a condition on a host: poll with a deadline, never sleep a guessed time."""

import time


def poll(condition, deadline_seconds: float, what: str):
    """Return condition()'s first truthy value, polling until a deadline."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {deadline_seconds} s: {what}")
        time.sleep(0.2)
