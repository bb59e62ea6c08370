"""awd deploy: the whole server on every selected host, each in its own pyinfra process."""

from __future__ import annotations

import sys

from apache_wsgi_deploy import hooks, progress, project, runner
from apache_wsgi_deploy.cli.common import NOT_RUN, add_data_option, add_host_options, hosts_of, print_json

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
    runner.prepare()
    logs = runner.run_logs()
    shown = progress.Silent(len(selection.names)) if args.json else progress.for_stream(len(selection.names))
    told = hooks.Hooks(selection.settings, action, logs.name) if action else None
    runs = runner.run_hosts(
        runner.run_hosts_of(selection), job, logs, args.concurrency, shown, events=told if told and told.any() else None
    )
    if args.verbose:
        for host, (_, output) in runs.items():
            print(f"=== {host} ===\n{output.rstrip()}\n", file=sys.stderr, flush=True)
    outcomes = {host: outcome for host, (outcome, _) in runs.items()}
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


def run(args, extra: list[str]) -> int:
    return run_deploy(args, runner.Job(deploy_target(args), verbosity=args.verbose), action=hooks.DEPLOY)
