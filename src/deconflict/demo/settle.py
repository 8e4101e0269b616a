"""The demo's last step: settle the seeds' dispute with a ledger receipt, checked offline.

"U.S. Says Russia Gave Advance Notice ... Despite Earlier Reports": whether notice was given, and
when, was in dispute. The hub asks for the receipt of the US's acknowledgement of the Russian
notice (the entry says it was delivered through the CAOC at T and acknowledged at T2) and the
hub's public key, writes both into the report folder, then checks the receipt as an arbiter
would: from those two files alone, with no database and no network (and checks that the same
receipt with one byte changed is refused). Russia's own filing receipt holds the commitment the
delivery names, which Russia alone can open.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from deconflict import owner_only
from deconflict.errors import NotFound, VerificationFailed
from deconflict.hub import Hub
from deconflict.ledger import Verifier, verify_opening, verify_receipt
from deconflict.model import NotificationKind, NotificationState
from deconflict.timefmt import format_clock

__all__ = ["DISPUTED_NOTICE", "Settlement", "prepare_settlement", "show_settlement"]

#: The notice in dispute, who filed it and who was told of it (the Raqqa 2015 scenario's ids).
DISPUTED_NOTICE = "RU-N3"
FILER = "RU"
TOLD = "US"

Echo = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Settlement:
    """The files an arbiter is handed, and what the filer can add."""

    receipt: Path
    key: Path
    filing_receipt: Path
    opening_ok: bool


def prepare_settlement(hub: Hub, folder: Path) -> Settlement | None:
    """Write the acknowledgement receipt, the filer's receipt and the public key into
    ``folder``; None if the scenario has no acknowledged notification of the disputed notice."""
    told = [
        n
        for n in hub.list_notifications(TOLD)
        if n.recipient == TOLD
        and (n.notice_party, n.notice_id) == (FILER, DISPUTED_NOTICE)
        and n.kind is NotificationKind.NOTICE
        and n.state is NotificationState.ACKNOWLEDGED
    ]
    if not told:
        return None
    notice = hub.get_notice(FILER, DISPUTED_NOTICE)
    receipt = folder / f"receipt-{DISPUTED_NOTICE}-{TOLD}.json"
    owner_only.write(receipt, hub.ledger.receipt(TOLD, told[0].id))
    filing = folder / f"receipt-{DISPUTED_NOTICE}-filed.json"
    owner_only.write(filing, hub.ledger.receipt(notice.party, DISPUTED_NOTICE))
    key = folder / "ledger-key.pub"
    owner_only.write(key, (hub.ledger.public_key + "\n").encode())
    try:  # the filer opens its commitment for the arbiter
        opening = hub.ledger.opening(notice.party, DISPUTED_NOTICE, 1)
        verify_opening(opening)
        opening_ok = True
    except (NotFound, VerificationFailed):
        opening_ok = False
    return Settlement(receipt, key, filing, opening_ok)


def _when(text: object) -> str:
    if not isinstance(text, str):
        return "never"
    return format_clock(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def show_settlement(settlement: Settlement, echo: Echo) -> None:
    """Verify the receipts from the files alone and print what they prove; VerificationFailed
    if they do not verify or a changed receipt would."""
    key = Verifier.parse(settlement.key.read_text(encoding="utf-8"))
    raw = settlement.receipt.read_bytes()
    checked = verify_receipt(raw, key)
    filed = verify_receipt(settlement.filing_receipt.read_bytes(), key)
    entry = checked.entry
    if filed.entry.get("commitment") != entry.get("notice_commitment"):
        raise VerificationFailed("the delivery names another notice commitment than the filing")
    tampered = bytearray(raw)
    tampered[raw.index(b'"acknowledged_at":"') + 30] ^= 0x01
    try:
        verify_receipt(bytes(tampered), key)
    except VerificationFailed:
        pass
    else:  # pragma: no cover - would be a bug in the ledger
        raise VerificationFailed("a receipt with one byte changed still verified")
    via = f" through {entry['via']}" if entry.get("via") else ""
    echo("")
    filer = filed.entry["party"]
    echo(f"settled: did {filer} give {entry['recipient']} notice of {entry['notice']}?")
    echo(f"  filed by {filer} at {_when(filed.entry['at'])} (ledger entry {filed.index})")
    echo(
        f"  delivered to {entry['recipient']}{via} at {_when(entry['delivered_at'])}, "
        f"acknowledged at {_when(entry['acknowledged_at'])} (ledger entry {checked.index})"
    )
    echo(
        f"  verified offline with only {settlement.key.name}: checkpoint of "
        f"{checked.checkpoint.size} entries signed by {checked.checkpoint.origin}; "
        "the same receipt with one byte changed is refused"
    )
    echo(f"  the receipt's entry: {json.dumps(entry, sort_keys=True)}")
    opened = "opens" if settlement.opening_ok else "does NOT open"
    echo(f"  {filed.entry['party']}'s opening {opened} the notice commitment both receipts name")
    echo(f"  receipts: {settlement.receipt}, {settlement.filing_receipt}; key: {settlement.key}")
