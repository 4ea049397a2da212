"""EventBridge archive replay and API destination pacing, against a real ``cumulo serve``.

Measured:

* archiving: events per second accepted by PutEvents on a bus with an archive (10 entries per
  request, 4 client processes), 100,000 events (10,000 with ``--quick``);
* replay: events per second a replay of the whole archive routes (read from the store in event
  time order, ``replay-name`` added, matched, one SQS delivery job committed per event), and
  the server's resident memory before and at the end of the replay (the replay streams pages
  from the store, so memory stays flat whatever the archive's size);
* API destination: the delivered rate to a local HTTP service against the destination's
  ``InvocationRateLimitPerSecond`` under a burst of events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import multiprocessing
import tempfile
import threading
import time
from pathlib import Path

from bench.report import Figure, print_figures
from cumulo.services.events.replays import PAGE
from tests.server import CumuloServer, free_port

BENCH = "events_replay"
BUS = "replay-bench"
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSEvents.PutEvents"}
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()


def _client(port: int, first: int, count: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    for start in range(first, first + count, 10):
        entries = [{"Source": "bench", "DetailType": "Tick", "EventBusName": BUS, "Time": BASE + n,
                    "Detail": json.dumps({"n": n})} for n in range(start, start + 10)]
        connection.request("POST", "/", body=json.dumps({"Entries": entries}).encode(), headers=HEADERS)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200 or json.loads(answer)["FailedEntryCount"]:
            raise RuntimeError(f"PutEvents failed: {answer[:200]!r}")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _replay(server: CumuloServer, count: int) -> list[Figure]:
    events, sqs = server.client("events"), server.client("sqs")
    bus_arn = events.create_event_bus(Name=BUS)["EventBusArn"]
    archive_arn = events.create_archive(ArchiveName="bench", EventSourceArn=bus_arn)["ArchiveArn"]
    clients = 4
    started = time.perf_counter()
    workers = [multiprocessing.Process(target=_client, args=(server.port, i * count // clients, count // clients))
               for i in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    archived_s = time.perf_counter() - started
    url = sqs.create_queue(QueueName="replayed")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="ticks", EventBusName=BUS, EventPattern=json.dumps({"source": ["bench"]}))
    events.put_targets(Rule="ticks", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue}])
    assert server.process is not None
    rss_before = _rss_mb(server.process.pid)
    events.start_replay(ReplayName="all", EventSourceArn=archive_arn, Destination={"Arn": bus_arn},
                        EventStartTime=dt.datetime.fromtimestamp(BASE - 1, dt.UTC),
                        EventEndTime=dt.datetime.fromtimestamp(BASE + count + 1, dt.UTC))
    rss_peak = rss_before
    while (replay := events.describe_replay(ReplayName="all"))["State"] not in ("COMPLETED", "FAILED"):
        rss_peak = max(rss_peak, _rss_mb(server.process.pid))
        time.sleep(0.2)
    seconds = (replay["ReplayEndTime"] - replay["ReplayStartTime"]).total_seconds()
    archive = events.describe_archive(ArchiveName="bench")
    return [Figure(BENCH, "PutEvents into an archived bus", round(count / archived_s), "ev/s",
                   f"{archive['EventCount']} events archived, 4 clients"),
            Figure(BENCH, "replay rate", round(count / seconds), "ev/s",
                   f"{count} events, {replay['State']}, one SQS delivery job each"),
            Figure(BENCH, "server RSS before replay", round(rss_before), "MB"),
            Figure(BENCH, "server RSS peak during replay", round(rss_peak), "MB", f"streams pages of {PAGE} events")]


class _Sink:
    """A local HTTP service counting arrivals (aiohttp, in a thread)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: list[float] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    def run(self) -> None:
        from aiohttp import web

        async def hook(request: web.Request) -> web.Response:
            self.arrivals.append(time.monotonic())
            return web.Response(text="ok")

        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())


def _api_destination(server: CumuloServer, rate: int, count: int) -> list[Figure]:
    sink = _Sink()
    thread = threading.Thread(target=sink.run, daemon=True)
    thread.start()
    sink.ready.wait(10)
    try:
        events = server.client("events")
        connection = events.create_connection(Name="bench", AuthorizationType="API_KEY", AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}})["ConnectionArn"]
        destination = events.create_api_destination(
            Name="bench", ConnectionArn=connection, HttpMethod="POST", InvocationEndpoint=f"http://127.0.0.1:"
            f"{sink.port}/hook", InvocationRateLimitPerSecond=rate)["ApiDestinationArn"]
        events.create_event_bus(Name="api-bench")
        events.put_rule(Name="all", EventBusName="api-bench", EventPattern=json.dumps({"source": ["api"]}))
        events.put_targets(Rule="all", EventBusName="api-bench", Targets=[{"Id": "d", "Arn": destination}])
        for _ in range(count // 10):
            events.put_events(Entries=[{"Source": "api", "DetailType": "x", "Detail": "{}",
                                        "EventBusName": "api-bench"}] * 10)
        deadline = time.monotonic() + count / rate * 3 + 10
        while len(sink.arrivals) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        arrivals = sorted(sink.arrivals)
        if len(arrivals) < 2:
            raise RuntimeError(f"only {len(arrivals)} of {count} calls arrived")
        delivered = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
        return [Figure(BENCH, f"API destination delivered rate (limit {rate}/s)", round(delivered, 1), "req/s",
                       f"{len(arrivals)}/{count} events, burst of {count}; {delivered / rate:.1%} of the limit")]
    finally:
        sink.loop.call_soon_threadsafe(sink.loop.stop)
        thread.join(10)


def run(quick: bool = False) -> list[Figure]:
    with tempfile.TemporaryDirectory() as scratch:
        server = CumuloServer(Path(scratch) / "data").start(timeout=60)
        try:
            # pacing first: the replay leaves a backlog of SQS deliveries behind it
            figures = _api_destination(server, 50, 150 if quick else 500)
            figures += _replay(server, 10_000 if quick else 100_000)
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    import sys

    print_figures(run(quick="--quick" in sys.argv))
