"""runs list, show and rm: the run catalog."""

from __future__ import annotations

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
def runs_list(runs_dir: RunsDir = None, as_json: Json = False) -> None:
    """List the runs in the catalog, oldest first."""
    from rich.table import Table

    rows = open_store(runs_dir).list()
    if as_json:
        echo_json(rows)
        return
    table = Table()
    for column in ("id", "status", "steps", "model", "one-step MSE", "rollout RMSE"):
        table.add_column(column, no_wrap=column == "id")
    for row in rows:
        model = row["config"]["model"]
        metrics = row["metrics"]
        table.add_row(
            row["id"],
            row["status"],
            str(row["steps"]),
            f"{model['cell']} {model['hidden_size']}×{model['num_layers']} {model['readout']}",
            f"{metrics['one_step_mse']:.6f}" if "one_step_mse" in metrics else "",
            f"{metrics['rollout_rmse']:.4f}" if "rollout_rmse" in metrics else "",
        )
    stdout_console().print(table)


@runs_app.command("show")
def runs_show(run_id: RunId, runs_dir: RunsDir = None, as_json: Json = False) -> None:
    """A run's config, status and metrics."""
    run = load_run(runs_dir, run_id)
    data = {"info": run.info, "config": run.config.to_dict(), "metrics": run.metrics}
    if as_json:
        echo_json(data)
        return
    from rich.pretty import Pretty

    stdout_console().print(Pretty(data))


@runs_app.command("rm")
def runs_rm(run_ids: Annotated[list[str], typer.Argument(help="Run ids to delete.")], runs_dir: RunsDir = None) -> None:
    """Delete runs: catalog row and directory."""
    store = open_store(runs_dir)
    for run_id in run_ids:
        store.remove(run_id)
        stderr_console().print(f"removed {run_id}", highlight=False)
