"""The service's local files are its owner's alone (security.md §5): the local issuer's key
and the state folder of a hub on a database URL."""

from __future__ import annotations

import stat

import pytest

from deconflict.api import ApiSettings, create_app
from deconflict.api.auth import local_key_path
from deconflict.errors import InvalidDocument
from deconflict.hub import Hub
from deconflict.settings import ledger_key_path, local_state_path


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_the_issuer_key_is_owner_only(tmp_path, permissive_umask):
    """security.md §5: the local issuer's private key (it signs every party's tokens) is made
    0600 under umask 000."""
    db = tmp_path / "hub.db"
    Hub.open(db).close()
    create_app(ApiSettings(db=db))
    assert _mode(local_key_path(db)) == 0o600


def test_an_issuer_key_open_to_others_is_refused(tmp_path, permissive_umask):
    """security.md §5: an issuer key others may read is refused, naming the file and the fix
    (its secret may be out: anyone who read it can mint tokens for every party)."""
    db = tmp_path / "hub.db"
    Hub.open(db).close()
    create_app(ApiSettings(db=db))
    local_key_path(db).chmod(0o644)
    with pytest.raises(InvalidDocument, match="chmod 600"):
        create_app(ApiSettings(db=db))


def test_the_state_folder_of_a_database_url_is_owner_only(tmp_path, permissive_umask, monkeypatch):
    """security.md §5: the folder a hub on a database URL keeps its keys in is made 0700 under
    umask 000 (it was made 0777), the ledger key in it 0600."""
    state = tmp_path / "deep" / "state"
    monkeypatch.setenv("DECONFLICT_STATE_DIR", str(state))
    url = "postgresql://hub@127.0.0.1:1/none"
    local_state_path(url)
    assert _mode(state) == 0o700
    assert ledger_key_path(url).parent == state
