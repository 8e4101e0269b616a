"""``deconflict doctor``: check a store's files for damage (bit rot) and name what is damaged.

It runs the full checks of :mod:`deconflict.store.health` on the database ``--db`` names,
opened read-only (nothing is migrated or repaired), prints one line a finding (the table or
index, or the file's header, and what is wrong) and exits 1 when it found any, 0 when the store
is sound as far as the checks can tell. ``serve`` runs the quick one at start and refuses a
damaged store, pointing here.
"""

from __future__ import annotations

import json

import typer

from deconflict.cli.common import DbOption, JsonOption

__all__ = ["doctor"]


def doctor(db: DbOption, as_json: JsonOption = False) -> None:
    """Check the store for damage (SQLite: integrity and foreign-key checks; PostgreSQL: its
    indexes with amcheck where installed) and its schema revision; name each damaged table or
    index. Exit status 1 when something is damaged. Reads only; repairs nothing."""
    from deconflict.store.health import check  # when it runs: the CLI starts without the store

    health = check(db, full=True)
    if as_json:
        document = {
            "sound": health.sound,
            "findings": [{"where": f.where, "problem": f.problem} for f in health.findings],
            "ran": list(health.ran),
            "skipped": list(health.skipped),
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        for finding in health.findings:
            typer.echo(f"DAMAGED  {finding}")
        for what in health.skipped:
            typer.echo(f"skipped  {what}")
        verdict = "no damage found" if health.sound else f"damaged: {health.summary()}"
        typer.echo(f"{verdict} (checked: {', '.join(health.ran)})")
    if not health.sound:
        raise typer.Exit(1)
