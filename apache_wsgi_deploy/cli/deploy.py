"""awd deploy: the whole server on every selected host, each in its own pyinfra process."""

from __future__ import annotations

import sys

from apache_wsgi_deploy import hooks, progress, project, rolling, runner
from apache_wsgi_deploy.cli.common import NOT_RUN, add_data_option, add_host_options, hosts_of, positive, print_json
from apache_wsgi_deploy.outcome import HostOutcome
from apache_wsgi_deploy.rolling import Rollout

HELP = "deploy the selected hosts (exit 0 all converged, 1 otherwise)"
# What `awd deploy` runs where the project folder has no deploy file of its own.
PACKAGED_DEPLOY = "apache_wsgi_deploy.deploys.whole_server"


def add_arguments(parser) -> None:
    parser.add_argument(
        "--deploy",
        help="pyinfra deploy file (default: deploy.py in the project folder, else the packaged whole_server)",
    )
    add_host_options(parser, runner.CONCURRENCY)
    add_data_option(parser)
    rolling_group = parser.add_argument_group(
        "rolling deploy", "hosts in stages, each host's sites probed over HTTPS from here as its run ends"
    )
    rolling_group.add_argument("--canary", type=positive, default=0, metavar="N", help="the first N hosts first, alone")
    rolling_group.add_argument(
        "--batch", type=positive, metavar="M", help="then M hosts at a time (default: all the rest at once)"
    )
    rolling_group.add_argument(
        "--max-failed",
        type=positive,
        metavar="K",
        help="start no further stage once K hosts failed, their run or their probe (default: 1)",
    )


def deploy_target(args) -> str:
    """The deploy file or function `awd deploy` and `awd check` run."""
    if args.deploy:
        return args.deploy
    return "deploy.py" if project.path("deploy.py").is_file() else PACKAGED_DEPLOY


def run_deploy(args, job: runner.Job, deploys: bool = True, action: str | None = None) -> int:
    """The job (a deploy file, or a deploy function and its arguments) over the selected
    hosts; a line per host at the end. deploys: as hosts.selected; action: what the
    hosts' hooks and webhooks are told of (hooks.DEPLOY, hooks.ROLLBACK; None: nothing)."""
    selection = hosts_of(args, deploys)
    if selection is None:
        return NOT_RUN
    rollout = Rollout(getattr(args, "canary", 0), getattr(args, "batch", None), getattr(args, "max_failed", None))
    to_run = runner.run_hosts_of(selection)
    runner.prepare(runner.starting(to_run, args.concurrency, rollout))
    logs = runner.run_logs()
    shown = progress.Silent(len(selection.names)) if args.json else progress.for_stream(len(selection.names))
    told = hooks.Hooks(selection.settings, action, logs.name) if action else None

    def probed(host: str, outcome) -> None:
        """A rolling deploy's host fails unless its sites answer from here too."""
        if outcome.exit_status == 0 and (problems := rolling.probe_failures(selection.settings[host])):
            outcome.exit_status = 1
            outcome.cause = f"its run converged, but {'; '.join(problems)}"
            failed_probe.append(host)

    failed_probe: list[str] = []

    runs = runner.run_hosts(
        to_run,
        job,
        logs,
        args.concurrency,
        shown,
        events=told if told and told.any() else None,
        rollout=rollout,
        judge=probed if rollout.rolling else None,
    )
    if args.verbose:
        for host, (_, output) in runs.items():
            print(f"=== {host} ===\n{output.rstrip()}\n", file=sys.stderr, flush=True)
    outcomes = {host: outcome for host, (outcome, _) in runs.items()}
    _put_back(selection, {host: outcomes[host] for host in failed_probe}, args.concurrency)
    failed = sum(1 for outcome in outcomes.values() if outcome.exit_status != 0)
    for host in selection.names:
        if host not in outcomes:
            stopped = (
                f"the rolling deploy stopped after {failed} host(s) failed (--max-failed {rollout.max_failed or 1})"
            )
            outcomes[host] = HostOutcome(host, exit_status=1, skipped=f"{stopped}: left as it was")
    if args.json:
        print_json({host: outcome.as_dict() for host, outcome in outcomes.items()})
    else:
        print(runner.summary(outcomes), file=sys.stderr)
    print(
        f"--> Each host's pyinfra output: {logs.relative_to(project.folder())}/<host>.log (-v prints it)",
        file=sys.stderr,
    )
    if told is not None:
        for failure in told.failures():
            print(f"--> {failure} (the run's outcome stands)", file=sys.stderr)
    return 0 if all(outcome.exit_status == 0 for outcome in outcomes.values()) else 1


def _put_back(selection, failed: dict, concurrency: int) -> None:
    """The sites whose new release went live on a host whose probe then failed, each rolled
    back to the release live before; said in the host's line."""
    by_app: dict[str, list[str]] = {}
    for host, outcome in failed.items():
        for site in selection.settings[host].present_sites:
            made = next((entry for entry in outcome.releases if entry["install_path"] == site.app_install_path), None)
            if made and made["previous"] and made["release"] != made["previous"]:
                by_app.setdefault(site.app_name, []).append(host)
    for app_name, hosts in by_app.items():
        job = runner.Job("apache_wsgi_deploy.deploys.rollback", {"app_name": app_name})
        run_hosts = [run_host for run_host in runner.run_hosts_of(selection) if run_host.name in hosts]
        for host, (rolled, _) in runner.run_hosts(run_hosts, job, concurrency=concurrency).items():
            said = "put back to its previous release" if rolled.exit_status == 0 else "putting it back failed"
            failed[host].cause += f"; {app_name} {said}"


def run(args, extra: list[str]) -> int:
    return run_deploy(args, runner.Job(deploy_target(args), verbosity=args.verbose), action=hooks.DEPLOY)
