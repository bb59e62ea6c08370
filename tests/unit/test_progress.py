"""Live progress of a run over many hosts: what each host's pyinfra process reports, and
how a terminal and a log show it."""

import io

from apache_wsgi_deploy import progress
from apache_wsgi_deploy.runner import Job, RunHost, run_hosts
from tests.unit.test_runner import deploy_file  # noqa: F401 (a fixture)


class Recording(progress.Plain):
    def __init__(self):
        super().__init__(1, io.StringIO())
        self.calls = []

    def started(self, host):
        self.calls.append(("started", host))

    def update(self, host, line):
        self.calls.append(("update", host, progress.parse(line)))

    def ended_host(self, host, result, failed=False):
        self.calls.append(("ended", host, result.rpartition(" (")[0], failed))


def test_a_host_reports_where_it_is_and_how_many_operations_are_done(deploy_file):  # noqa: F811
    shown = Recording()
    run_hosts([RunHost("@local")], Job(deploy_file), shown=shown)
    assert shown.calls[0] == ("started", "@local")
    updates = [call[2] for call in shown.calls if call[0] == "update"]
    # Each line read as it came, or the last of those read at once: never out of order.
    assert updates[-2:] == [(0, 3, "Works"), (1, 3, "Fails")]
    assert {update[2] for update in updates} <= {"connecting", "preparing", "Works", "Fails"}
    assert shown.calls[-1] == ("ended", "@local", "@local: FAILED at 'Fails': write error: No space left on device"
                               " (1 changed before)", True)  # fmt: skip


def test_without_a_terminal_each_ended_host_is_one_plain_line():
    stream = io.StringIO()
    shown = progress.for_stream(12, stream)
    shown.started("web1")
    shown.update("web1", "3\t40\tSite files are in place")
    shown.ended_host("web1", "web1: converged, 0 changed, 40 unchanged (1.2 s)")
    assert stream.getvalue() == "[ 1/12] web1: converged, 0 changed, 40 unchanged (1.2 s)\n"
    assert isinstance(progress.for_stream(12, stream, plain=False), progress.Silent)


def test_a_terminal_shows_each_running_host_and_the_fleet_redrawn_in_place(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(progress, "REDRAW_EVERY", 0)
    shown = progress.Terminal(3, stream)
    shown.started("web1")
    shown.started("web2")
    shown.update("web1", "3\t40\tSite files are in place")
    drawn = stream.getvalue().split("\x1b[")[-1]
    assert "web1    0.0s  3/40 Site files are in place\n" in drawn
    assert "web2    0.0s  starting\n" in drawn
    assert drawn.endswith("[" + "." * 30 + "] 0 done, 0 failed, 3 left\n")
    shown.ended_host("web2", "web2: NOT REACHED, timed out", failed=True)
    # Cleared back to the first line drawn, the result printed, the rest drawn below it.
    after = stream.getvalue().rpartition("\x1b[3F\x1b[J")[2]
    assert after.startswith("[1/3] web2: NOT REACHED, timed out\n")
    assert after.endswith("[" + "#" * 10 + "." * 20 + "] 0 done, 1 failed, 2 left\n")
    shown.close()
    assert stream.getvalue().endswith("\x1b[2F\x1b[J")
