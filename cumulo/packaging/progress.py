"""``cumulo build``'s progress on the terminal (rich): a spinner while a resource builds, one line each."""

from __future__ import annotations

from rich.console import Console
from rich.status import Status

from cumulo.packaging.build import BuildEvent


class BuildProgress:
    """Feed it BuildEvents; ``summary()`` says what the whole build did."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status: Status | None = None
        self.built: list[str] = []
        self.cached: list[str] = []

    def __call__(self, event: BuildEvent) -> None:
        if event.state == "building":
            self.status = self.console.status(f"Building [bold]{event.logical_id}[/] ({event.method}) ...")
            self.status.start()
            return
        self.stop()
        if event.state == "cached":
            self.cached.append(event.logical_id)
            self.console.print(f"  [dim]{event.logical_id:<28} up to date   ({event.method})[/]")
        else:
            self.built.append(event.logical_id)
            self.console.print(f"  [green]{event.logical_id:<28} built[/] in {event.seconds:5.1f} s ({event.method})")

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def summary(self) -> str:
        if not self.built and not self.cached:
            return "Nothing to build: the template has no function or layer with local code to build."
        if not self.built:
            return f"Nothing to do: all {len(self.cached)} up to date."
        return f"Built {len(self.built)}, {len(self.cached)} up to date."
