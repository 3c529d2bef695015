"""runs list, show, rm and check: the run catalog."""

from __future__ import annotations

from typing import Optional

import typer
from typing_extensions import Annotated

from .common import (
    Json,
    RunId,
    RunsDir,
    echo_json,
    load_run,
    stderr_console,
    stdout_console,
    open_store,
    runs_app,
)


@runs_app.command("list")
def runs_list(runs_dir: RunsDir = None, as_json: Json = False,
              group: Annotated[Optional[str], typer.Option("--group", help="Only the runs of this group (fit-many).")] = None) -> None:
    """List the runs in the catalog, oldest first."""
    from rich.table import Table

    store = open_store(runs_dir)
    rows = store.list()
    if group is not None:
        from ..many.groups import run_ids

        members = run_ids(store, group)
        rows = [row for row in rows if row["id"] in members]
    for note in store.notes:
        stderr_console().print(f"note: {note}", soft_wrap=True)
    if as_json:
        echo_json(rows)
        return
    table = Table()
    for column in ("id", "status", "steps", "model", "one-step MSE", "rollout RMSE"):
        table.add_column(column, no_wrap=column == "id")
    for row in rows:
        model = row["config"].get("model") if isinstance(row["config"], dict) else None
        metrics = row["metrics"] if isinstance(row["metrics"], dict) else {}
        table.add_row(
            row["id"],
            row["status"],
            str(row["steps"]),
            _model_label(model),
            _metric(metrics, "one_step_mse", ".6f"),
            _metric(metrics, "rollout_rmse", ".4f"),
        )
    stdout_console().print(table)


def _model_label(model) -> str:
    try:
        return f"{model['cell']} {model['hidden_size']}×{model['num_layers']} {model['readout']}"
    except (KeyError, TypeError):
        return "?"


def _metric(metrics: dict, key: str, spec: str) -> str:
    value = metrics.get(key)
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


@runs_app.command("show")
def runs_show(run_id: RunId, runs_dir: RunsDir = None, as_json: Json = False) -> None:
    """A run's config, status and metrics."""
    run = load_run(runs_dir, run_id)
    data = {"info": run.info, "config": (run.trained_config or run.config).to_dict(), "metrics": run.metrics}
    if as_json:
        echo_json(data)
        return
    from rich.pretty import Pretty

    stdout_console().print(Pretty(data))


@runs_app.command("rm")
def runs_rm(run_ids: Annotated[list[str], typer.Argument(help="Run ids to delete, or 'latest' (the newest run).")],
            runs_dir: RunsDir = None) -> None:
    """Delete runs: catalog row and directory, in one transaction."""
    store = open_store(runs_dir)
    resolved = list(dict.fromkeys(store.resolve(run_id) for run_id in run_ids))  # 'latest' names one run, once
    for run_id in resolved:
        removed = store.remove(run_id)
        stderr_console().print(f"removed {removed}")


@runs_app.command("check")
def runs_check(
    repair: Annotated[bool, typer.Option("--repair", help="Repair what can be repaired (never deletes a run).")] = False,
    runs_dir: RunsDir = None,
    as_json: Json = False,
) -> None:
    """Compare the catalog with the run directories: rows without directories, directories
    without rows, leftovers of killed writes, unreadable runs; a missing or damaged runs.db is
    rebuilt from the run directories with --repair. Exit status 1 while a problem remains."""
    from ..storecheck import check_store

    store = open_store(runs_dir)
    findings = check_store(store, repair=repair)
    if as_json:
        echo_json({"runs_dir": str(store.root), "findings": [f.to_dict() for f in findings]})
    else:
        for finding in findings:
            state = "repaired" if finding.repaired else "found"
            print(f"{state:8}  {finding.kind:10}  {finding.target}: {finding.detail}")
        left = sum(not f.repaired for f in findings)
        hint = "; 'rnnlab runs check --repair' repairs what can be" if left and not repair else ""
        stderr_console().print(f"{store.root}: {len(findings)} finding(s), {left} left{hint}", soft_wrap=True)
    if any(not f.repaired for f in findings):
        raise typer.Exit(1)
