"""``cumulo cluster status``: the nodes of a cluster, read from its database."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(help="Cluster mode (several nodes on PostgreSQL): see docs/cluster.md.", no_args_is_help=True)


@app.command()
def status(
    cluster: Annotated[str | None, typer.Option(
        help="The cluster's postgresql:// URL.", show_default="CUMULO_CLUSTER_URL or cumulo.toml")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the cluster's nodes: name, endpoint, version, up or down, last heartbeat."""
    from cumulo.settings import SettingsError, load_settings
    from cumulo.store.membership import nodes
    from cumulo.store.notify import Notifier
    from cumulo.store.opening import ClusterDriverMissing, open_store

    try:
        settings = load_settings({"cluster_url": cluster})
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not settings.cluster_url:
        typer.echo("error: no cluster: pass --cluster postgresql://... or set CUMULO_CLUSTER_URL", err=True)
        raise typer.Exit(2)
    try:
        store = open_store(settings, Notifier())
    except ClusterDriverMissing as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except Exception as exc:  # the driver's connection errors, whatever their class
        typer.echo(f"error: cannot reach the cluster database: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        members = nodes(store)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(members, indent=1))
        return
    if not members:
        typer.echo("no nodes")
        return
    for member in members:
        state = "up" if member["up"] else "DOWN"
        typer.echo(f"{member['name']:<24} {state:<5} {member['endpoint']:<28} {member['version']:<10} "
                   f"heartbeat {member['lastHeartbeatSecondsAgo']} s ago")
    if not all(member["up"] for member in members):
        raise typer.Exit(1)
