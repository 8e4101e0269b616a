"""What ``deconflict ledger`` writes for a party is that party's alone (security.md §5): a
receipt or an opening names what it was told, and an opening holds its notice's content."""

from __future__ import annotations

import stat

from tests.hub.scenario import make_hub, vol

from deconflict.cli.main import main


def test_receipts_and_openings_written_to_a_file_are_owner_only(tmp_path, capsys, permissive_umask):
    """security.md §5: ``ledger receipt --out`` and ``ledger open --out`` write 0600 under
    umask 000, also over a file that was there open to others."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.close()
    db = tmp_path / "hub.db"
    receipt, opening = tmp_path / "receipt.json", tmp_path / "opening.json"
    opening.write_text("left open\n")
    opening.chmod(0o644)
    assert (
        main(["ledger", "receipt", "N1", "--as", "usaf", "--db", str(db), "--out", str(receipt)])
        == 0
    )
    assert (
        main(["ledger", "open", "N1", "--as", "usaf", "--db", str(db), "--out", str(opening)]) == 0
    )
    capsys.readouterr()
    assert stat.S_IMODE(receipt.stat().st_mode) == 0o600
    assert stat.S_IMODE(opening.stat().st_mode) == 0o600
