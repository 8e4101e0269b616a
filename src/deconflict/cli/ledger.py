"""``deconflict ledger ...``: the provable record, from the command line.

Against a hub database (``--db``): ``verify`` (recompute the whole log, check every checkpoint,
then match every record the store serves with its entries, both ways: one ``differs:`` line per
finding), ``export`` (entries, checkpoints and findings as JSON files, for an investigation),
``repair`` (rebuild the derived hashes, never what was signed: see docs/ledger.md),
``checkpoint`` (sign the log as it is now), ``key`` (the public verifier key), ``proof inclusion``
and ``proof consistency``, ``receipt`` (for a notice one filed or a notification one was sent or
relayed) and ``open`` (a notice's commitment, for its filer). All but ``verify`` also work against
a remote hub (``--url`` and ``--token``, the token's party acting), printing the same: there a
party proves only the entries about records it may see, and ``checkpoint`` prints the latest
(``--fresh``: signed now, admin scope). Offline, with no database and no network:
``verify-receipt`` and ``verify-opening``, which is all an arbiter needs.

Every failure is one line on stderr: exit 1 for anything that does not verify, 2 for bad input.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deconflict import owner_only
from deconflict.cli.common import DbOption, TokenOption, UrlOption
from deconflict.errors import InvalidDocument, InvalidInput, NotYetCommitted, VerificationFailed

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from deconflict.client import Client
    from deconflict.hub import Hub
    from deconflict.ledger import Verifier

__all__ = ["ledger_app"]

ledger_app = typer.Typer(
    help="The ledger: signed checkpoints, proofs, receipts and their offline checks.",
    no_args_is_help=True,
)
proof_app = typer.Typer(help="Inclusion and consistency proofs.", no_args_is_help=True)
ledger_app.add_typer(proof_app, name="proof")

AsOption = Annotated[
    str | None,
    typer.Option("--as", "--party", help="The acting party's id (remote: the token's party)."),
]
KeyOption = Annotated[
    str,
    typer.Option("--key", help="The hub's verifier key (<name>+<id>+<key>) or a file holding it."),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
]


# The hub, the client and the ledger are imported where a command uses them, not above: the
# CLI builds every command's help at start, and should not pay for what the command won't use.


def _hub(db: str) -> AbstractContextManager[Hub]:
    from deconflict.hub import Hub

    return Hub.open(db)


def _verifier(key: str) -> Verifier:
    from deconflict.ledger import Verifier

    path = Path(key)
    if "+" not in key and path.is_file():
        key = path.read_text(encoding="utf-8")
    return Verifier.parse(key)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InvalidDocument(f"{path}: cannot read it ({error.strerror})") from None


def _write(data: bytes, out: Path | None) -> None:
    if out is None:
        typer.echo(data.decode(), nl=False)
    else:
        owner_only.write(out, data)  # what a party was told is that party's alone
        typer.echo(f"wrote {out}")


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=1, ensure_ascii=False) + "\n").encode()


def _client(url: str, token: str) -> Client | None:
    """A client of the remote hub at ``url``, or None to act on the local database."""
    if not url:
        return None
    from deconflict.client import Client

    return Client(url, token or None)


def _acting(party: str | None) -> str:
    if party is None:
        raise InvalidInput("say which party acts: --as PARTY (or --url and --token)")
    return party


@ledger_app.command("verify")
def verify(
    db: DbOption,
    key: Annotated[
        str | None, typer.Option("--key", help="Check checkpoints against this key.")
    ] = None,
) -> None:
    """Recompute the whole log from the store, check every signed checkpoint, and match every
    record the store serves with what the ledger says (one `differs:` line each)."""
    with _hub(db) as hub:
        audit = hub.ledger.audit(None if key is None else _verifier(key))
        halt = hub.store.ledger_halt()
    if halt is not None:  # said first: it is why the hub refuses filings now
        from deconflict.geo.units import epoch_to_rfc3339

        typer.echo(
            f"halted: since {epoch_to_rfc3339(halt.at_s)} the hub signs nothing and takes no "
            "filings (`deconflict ledger repair`, or serve's start check over a log that holds, "
            "lifts it): " + halt.reason.split(". ", 1)[0]
        )
    if audit.log_problem is not None or audit.report is None:
        raise VerificationFailed(audit.log_problem or "the log does not verify")
    for finding in audit.findings:
        typer.echo(f"differs: {finding}")
    if audit.findings:
        raise VerificationFailed(
            f"the store and its ledger differ ({len(audit.findings)} finding(s)): not certified"
        )
    report = audit.report
    root = base64.b64encode(report.root).decode()
    typer.echo(f"ok: {report.size} entries, root {root}, {report.checkpoints} checkpoint(s) hold")


@ledger_app.command("export")
def export(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="The folder to write the JSON files in.")],
) -> None:
    """Write the ledger's entries, the parties' private entries, the checkpoints, what verify
    finds and the hub's halt as JSON files in OUT (owner-only), for an investigation."""
    with _hub(db) as hub:
        data = hub.ledger.export()
    owner_only.make_dir(out)
    for name, value in data.items():
        owner_only.write(out / f"{name}.json", _json(value))
    findings = data["findings"]
    typer.echo(f"wrote {', '.join(f'{name}.json' for name in data)} to {out}")
    if isinstance(findings, dict) and any(findings.values()):
        typer.echo("the ledger has findings: see findings.json")
    if data["halt"] is not None:
        typer.echo("the hub is halted: see halt.json")


@ledger_app.command("repair")
def repair(db: DbOption) -> None:
    """Rebuild the ledger's derived hashes from its entries, only if the entries still give
    every root this hub signed; never rewrites what was signed (else exit 1, nothing written)."""
    with _hub(db) as hub:
        done = hub.ledger.repair()
    typer.echo(f"repaired: {done}")


@ledger_app.command("checkpoint")
def checkpoint(
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Remote: have the hub sign one now (admin scope).")
    ] = False,
) -> None:
    """Sign the log as it is now and print the checkpoint (C2SP signed note); remote: the
    latest the hub signed."""
    client = _client(url, token)
    if client is not None:
        with client:
            typer.echo(client.checkpoint(fresh=fresh)["note"], nl=False)
        return
    with _hub(db) as hub:
        typer.echo(hub.ledger.checkpoint(), nl=False)


@ledger_app.command("key")
def key(db: DbOption, url: UrlOption, token: TokenOption) -> None:
    """Print the hub's public verifier key (C2SP: <name>+<hex key id>+<base64 key>)."""
    client = _client(url, token)
    if client is not None:
        with client:
            typer.echo(client.ledger_key()["key"])
        return
    with _hub(db) as hub:
        typer.echo(hub.ledger.public_key)


@proof_app.command("inclusion")
def proof_inclusion(
    index: Annotated[int, typer.Argument(help="The entry's leaf index.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    size: Annotated[int | None, typer.Option(help="Tree size (default: now).")] = None,
) -> None:
    """The entry at INDEX and its inclusion proof (JSON)."""
    client = _client(url, token)
    if client is not None:
        with client:
            typer.echo(_json(client.inclusion_proof(index, size)), nl=False)
        return
    with _hub(db) as hub:
        tree_size = hub.ledger.size if size is None else size
        proof = hub.ledger.inclusion(index, tree_size)
        entry = hub.ledger.entry(index)
    from deconflict.ledger.proofs import inclusion_document

    typer.echo(_json(inclusion_document(index, tree_size, entry, proof)), nl=False)


@proof_app.command("consistency")
def proof_consistency(
    first: Annotated[int, typer.Argument(help="The older tree size.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    second: Annotated[int | None, typer.Argument(help="The newer size (default: now).")] = None,
) -> None:
    """The consistency proof from tree size FIRST to SECOND (JSON)."""
    client = _client(url, token)
    if client is not None:
        with client:
            typer.echo(_json(client.consistency_proof(first, second)), nl=False)
        return
    with _hub(db) as hub:
        newer = hub.ledger.size if second is None else second
        proof = hub.ledger.consistency(first, newer)
    from deconflict.ledger.proofs import consistency_document

    typer.echo(_json(consistency_document(first, newer, proof)), nl=False)


@ledger_app.command("receipt")
def receipt(
    record_id: Annotated[str, typer.Argument(help="A notice or notification id.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: AsOption = None,
    out: OutOption = None,
    wait: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="With --url: wait at most this many seconds for an entry the hub has not yet "
            "signed a checkpoint over (it signs one within seconds).",
        ),
    ] = 10.0,
) -> None:
    """A receipt: the entry, its inclusion proof and a signed checkpoint (canonical JSON).
    Through a hub (--url), under the newest checkpoint it keeps; on the store itself, one is
    signed if none holds the entry yet."""
    client = _client(url, token)
    if client is not None:
        with client:
            try:
                data = client.receipt(record_id, wait_s=wait)
            except NotYetCommitted as error:
                later = max(1, round(error.retry_after_s))
                raise NotYetCommitted(f"not yet: {error}; ask again in {later} s", later) from None
    else:
        from deconflict.hub.ledger_access import receipt_for  # as the API gives it

        with _hub(db) as hub:
            data = receipt_for(hub, _acting(party), record_id)
    _write(data, out)


@ledger_app.command("open")
def open_commitment(
    notice_id: Annotated[str, typer.Argument(help="A notice the acting party filed.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: AsOption = None,
    version: Annotated[int | None, typer.Option(help="Version (default: current).")] = None,
    out: OutOption = None,
) -> None:
    """The salt and content that open a notice version's commitment, for an arbiter."""
    client = _client(url, token)
    if client is not None:
        with client:
            document = client.opening(notice_id, version)
    else:
        with _hub(db) as hub:
            document = hub.ledger.opening(_acting(party), notice_id, version).to_json()
    _write(_json(document), out)


@ledger_app.command("verify-receipt")
def verify_receipt_command(
    file: Annotated[Path, typer.Argument(help="The receipt file.")],
    key: KeyOption,
) -> None:
    """Check a receipt offline: the checkpoint's signature, the entry's inclusion under it."""
    from deconflict.ledger import verify_receipt

    checked = verify_receipt(_read(file), _verifier(key))
    entry = json.dumps(checked.entry, ensure_ascii=False, sort_keys=True)
    typer.echo(
        f"ok: entry {checked.index} of {checked.checkpoint.size} in "
        f"{checked.checkpoint.origin}: {entry}"
    )


def _commitments_held(entry: dict[str, Any]) -> list[str]:
    """The commitments an entry holds: its own, the notice's it tells of, or, for a batch of
    deliveries, each delivered notification's notice's."""
    told = entry.get("notifications")
    items = [*told] if isinstance(told, list) else [entry]
    found = [
        item.get("commitment", item.get("notice_commitment"))
        for item in items
        if isinstance(item, dict)
    ]
    return [commitment for commitment in found if isinstance(commitment, str)]


@ledger_app.command("verify-opening")
def verify_opening_command(
    file: Annotated[Path, typer.Argument(help="The opening file (from `ledger open`).")],
    receipt_file: Annotated[
        Path | None, typer.Option("--receipt", help="Also check it opens this receipt's entry.")
    ] = None,
    key: Annotated[str | None, typer.Option("--key", help="Verifier key for --receipt.")] = None,
) -> None:
    """Check that an opening opens its commitment (and the one a receipt's entry holds)."""
    from deconflict.ledger import Opening, verify_opening, verify_receipt

    try:
        opening = Opening.from_json(json.loads(_read(file)))
    except (ValueError, UnicodeDecodeError, RecursionError):  # not JSON, or past what it reads
        raise InvalidDocument(f"{file}: not valid JSON") from None
    expected = None
    if receipt_file is not None:
        if key is None:
            raise VerificationFailed("--receipt needs --key to check the receipt")
        entry = verify_receipt(_read(receipt_file), _verifier(key)).entry
        held = _commitments_held(entry)
        if not held:
            raise VerificationFailed("the receipt's entry holds no commitment")
        expected = held[0]
        if len(held) > 1:  # a batch of deliveries names one a notification: the opening's
            if opening.commitment not in held:
                raise VerificationFailed(
                    f"the receipt's entry names no commitment {opening.commitment}"
                )
            expected = opening.commitment
    verify_opening(opening, expected)
    typer.echo(f"ok: opens commitment {opening.commitment}")
