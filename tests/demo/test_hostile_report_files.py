"""The demo's report is its owner's alone (security.md §5): it holds every party's volumes,
private plans among them, the demo database and the receipts of what was told."""

from __future__ import annotations

import stat

from deconflict.demo.runner import run_demo


def test_every_file_of_the_report_is_owner_only(tmp_path, permissive_umask):
    """security.md §5: under umask 000 the report folder is made 0700 and every file in it
    (summary, GeoJSON, map, map.html, receipts, the demo database) 0600."""
    folder = tmp_path / "report"
    run_demo(folder, lambda line: None)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert {"summary.md", "volumes.geojson", "map.png", "demo.db"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
