"""
A no-change rerun over a real network link: a TCP relay on loopback that holds every
chunk it passes for a fixed delay each way (25 ms: a 50 ms round trip, an office or CI
runner to a cloud region), no kernel module needed, and the rerun timed through it and
directly, in interleaved pairs.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bench.hosts import deploy, write_inventory

# Each way: a round trip through the relay takes twice this.
DELAY_S = 0.025


class DelayingRelay:
    """Listens on a loopback port and passes each connection on to target_port, every
    chunk in either direction delivered delay seconds after it arrived, in order.
    round_trips: how many times, over all its connections, the client sent something
    after the server last spoke (or first): the times it waited on the link."""

    def __init__(self, target_port: int, delay: float = DELAY_S):
        self.target_port, self.delay = target_port, delay
        self.port = 0
        self.round_trips = 0
        self._loop = asyncio.new_event_loop()
        self._writers: list[asyncio.StreamWriter] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, turn: list, side: str) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                due, chunk = item
                await asyncio.sleep(max(due - self._loop.time(), 0))
                writer.write(chunk)
                await writer.drain()
            writer.close()

        delivering = asyncio.ensure_future(deliver())
        try:
            while chunk := await reader.read(65536):
                if side == "client" and turn[0] != "client":
                    self.round_trips += 1
                turn[0] = side
                queue.put_nowait((self._loop.time() + self.delay, chunk))
        except ConnectionError:
            pass
        queue.put_nowait(None)
        await delivering

    async def _relay(self, client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        self._writers += [client_writer, server_writer]
        # Who sent the connection's last chunk: the connection itself is the client's first turn.
        turn = [None]
        await asyncio.gather(
            self._pump(client_reader, server_writer, turn, "client"),
            self._pump(server_reader, client_writer, turn, "server"),
            return_exceptions=True,
        )

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        # Stopped: every connection closed, both ends, so nothing waits on one of them.
        server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._loop.run_until_complete(asyncio.sleep(0))

    def __enter__(self) -> DelayingRelay:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def through_relay(test_host, relay_port: int, folder: Path) -> dict:
    """Inventory data that reaches the test host's SSH through the relay: its ssh_config
    block and known_hosts line, for the relay's port."""
    ssh_config, known_hosts = folder / "relay_ssh_config", folder / "relay_known_hosts"
    block = Path(test_host.ssh_config).read_text().split(f"Host {test_host.alias}\n", 1)[1].split("\n\n", 1)[0]
    block = block.replace(f"Port {test_host.ssh_port}", f"Port {relay_port}")
    block = block.replace(f"UserKnownHostsFile {test_host.known_hosts}", f"UserKnownHostsFile {known_hosts}")
    ssh_config.write_text(f"Host {test_host.alias}\n{block}\n")
    listed = f"[127.0.0.1]:{test_host.ssh_port} "
    key = next(line for line in Path(test_host.known_hosts).read_text().splitlines() if line.startswith(listed))
    known_hosts.write_text(f"[127.0.0.1]:{relay_port} {key[len(listed) :]}\n")
    return {"ssh_config_file": str(ssh_config), "ssh_known_hosts_file": str(known_hosts)}


@dataclass
class RelayedRerun:
    delay_ms: float
    direct_s: list[float] = field(default_factory=list)
    relayed_s: list[float] = field(default_factory=list)
    # Each relayed rerun's: the times it waited on the link (DelayingRelay.round_trips).
    round_trips: list[int] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [relayed / direct for relayed, direct in zip(self.relayed_s, self.direct_s, strict=True)]


def measure(test_host, folder: Path, pairs: int) -> RelayedRerun:
    """A converged host's no-change rerun, directly and through the relay, in turn."""
    direct = write_inventory([test_host], folder / "inventory-direct.py")
    deploy(direct)
    run = RelayedRerun(delay_ms=DELAY_S * 1000)
    with DelayingRelay(test_host.ssh_port) as relay:
        relayed = write_inventory(
            [test_host], folder / "inventory-relay.py", through_relay(test_host, relay.port, folder)
        )
        deploy(relayed)  # a first connection through it, not counted
        for _ in range(pairs):
            run.direct_s.append(deploy(direct))
            before = relay.round_trips
            run.relayed_s.append(deploy(relayed))
            run.round_trips.append(relay.round_trips - before)
    return run


def table(run: RelayedRerun) -> str:
    return "\n".join(
        [
            "| no-change rerun, 1 host | wall time (median) | relayed / direct (median of pairs) |",
            "|---|---|---|",
            f"| directly on loopback | {statistics.median(run.direct_s):.2f} s | |",
            f"| through a relay adding {run.delay_ms:g} ms each way | {statistics.median(run.relayed_s):.2f} s"
            f" | {statistics.median(run.ratios):.2f} ({len(run.ratios)} pairs) |",
            f"| round trips through the relay (median) | {statistics.median(run.round_trips):g} | |",
        ]
    )
