"""The store against its ledger, both ways, record by record: what ``ledger verify`` adds to the
recomputation of the log.

The log's own check (:func:`deconflict.ledger.verify_log`) proves the entries are those that were
appended. It says nothing of the rows the hub serves: a notice deleted with its entries' help
gone from the unsigned end, or a served row edited while its entry stays, leave every hash
intact. So every record the store serves is compared with what its entries say (a notice's
current row and each version, a plan's, a conflict, a notification and its delivery,
acknowledgement and escalation), and every entry's subject must be in the store as the entry
says. Counting is not enough (an entry can be there for another reason); each field is matched,
and each difference is one :class:`Finding` that names the record, the field, what the store
serves and what the ledger says. What the entries commit to, so that this can be done, is written
in docs/ledger.md.

:func:`cross_check` is pure: it is fed one read of the store
(:meth:`~deconflict.store.ledger_base.LedgerStore.ledger_audit_data`) and reads nothing else.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from deconflict.errors import InvalidInput, VerificationFailed
from deconflict.geo.units import rfc3339_micro
from deconflict.ledger import Opening, leaf_hash, verify_opening
from deconflict.ledger.entries import withheld_commitment
from deconflict.model.ids import split_key
from deconflict.store.ledger_base import AuditData, Row
from deconflict.store.ledger_entries import notice_content_object_of

__all__ = ["Finding", "cross_check"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One way the store and its ledger differ: ``what`` (a record or an entry) and how."""

    what: str
    problem: str

    def __str__(self) -> str:
        return f"{self.what}: {self.problem}"


@dataclass(frozen=True, slots=True)
class _Entry:
    """An entry as the audit reads it: where it is (``entry 17``, ``usaf's private entry 4``),
    its type, subject, parsed body and the opening kept beside it."""

    where: str
    type: str
    subject: str
    body: dict[str, Any]
    salt: bytes | None
    content: str | None
    index: int | None


def _t(seconds: Any) -> str | None:
    """A stored time as entries write it."""
    return None if seconds is None else rfc3339_micro(float(seconds))


def _metres(value: Any) -> str:
    return f"{value:g} m" if isinstance(value, int | float) else _shown(value)


def _shown(value: Any) -> str:
    return "none" if value is None else str(value)


_NEW_VERSION = ("notice.filed", "notice.amended")
_VOLUME_FIELDS = (("lower_m", "lower"), ("upper_m", "upper"))
_VOLUME_TIMES = (("start_s", "start"), ("end_s", "end"))


class _Audit:
    """The cross-check's state: the entries by subject, those not yet matched with a record,
    and the findings so far."""

    def __init__(self, data: AuditData) -> None:
        self.data = data
        self.findings: list[Finding] = []
        self.about: dict[str, list[_Entry]] = defaultdict(list)
        self.delivered: dict[str, list[tuple[_Entry, dict[str, Any]]]] = defaultdict(list)
        self.party_added: dict[str, int] = {}  # each party's entry's index
        for e in data.entries:
            self._add(f"entry {e.index}", e.type, e.subject, e.body, e.salt, e.content, e.index)
        for p in data.private:
            where = f"{p.party}'s private entry {p.seq}"
            if leaf_hash(p.body) != p.leaf:
                self.note(where, "differs from the leaf hash it was kept with (it was changed)")
            self._add(where, p.type, p.subject, p.body, p.salt, p.content, None)

    def _add(
        self,
        where: str,
        kind: str,
        subject: str,
        raw: bytes,
        salt: bytes | None,
        content: str | None,
        index: int | None,
    ) -> None:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            self.note(where, "is not a JSON object")
            return
        entry = _Entry(where, kind, subject, body, salt, content, index)
        if kind == "notifications.delivered":  # a batch: each notification it names
            for item in body.get("notifications") or []:
                if isinstance(item, dict):
                    self.delivered[str(item.get("notification"))].append((entry, item))
        else:
            self.about[subject].append(entry)

    def note(self, what: str, problem: str) -> None:
        self.findings.append(Finding(what, problem))

    def differs(self, what: str, name: str, served: Any, recorded: Any) -> bool:
        """Note ``name`` served as ``served`` where the ledger says ``recorded``, if so."""
        if served == recorded:
            return False
        self.note(what, f"served {name} {_shown(served)}, ledger {_shown(recorded)}")
        return True

    def opened(self, what: str, entry: _Entry, content: Any = None) -> Any:
        """The content ``entry``'s commitment opens to (``content`` if given, else the content
        kept beside the entry), or None, noted, if it does not open."""
        commitment = entry.body.get("commitment")
        if content is None and entry.content is not None:
            try:
                content = json.loads(entry.content)
            except ValueError:
                content = None
        if not isinstance(commitment, str) or entry.salt is None or content is None:
            self.note(what, f"{entry.where} ({entry.type}) keeps no opening of its commitment")
            return None
        try:
            verify_opening(Opening(commitment, entry.salt, content))
        except (VerificationFailed, InvalidInput):
            self.note(
                what,
                f"its stored content does not open the commitment of {entry.where} "
                f"({entry.type}): it was changed",
            )
            return None
        return content

    def take(self, subject: str) -> list[_Entry]:
        """The entries about ``subject``, matched with its record (so not left over)."""
        return self.about.pop(subject, [])


def _parties(a: _Audit) -> None:
    for row in a.data.parties:
        what = f"party {row['id']}"
        added = [e for e in a.take(f"party:{row['id']}") if e.type == "party.added"]
        if not added:
            a.note(what, "no ledger entry records it")
            continue
        a.party_added[row["id"]] = added[0].index if added[0].index is not None else -1
        if "commitment" in added[0].body:  # entries before the name was committed to: none
            content = a.opened(what, added[0])
            if isinstance(content, dict):
                a.differs(what, "name", row["name"], content.get("name"))


def _agreements(a: _Audit) -> None:
    for row in a.data.agreements:
        what = f"agreement {row['id']}"
        added = [e for e in a.take(f"agreement:{row['id']}") if e.type == "agreement.added"]
        if not added:
            a.note(what, "no ledger entry records it")
            continue
        content = a.opened(what, added[0])
        if content is not None and json.loads(row["body"]) != content:
            a.note(what, f"its served terms are not those {added[0].where} commits to")


def _volumes(a: _Audit, what: str, served: Any, recorded: Any) -> None:
    """Name each served volume field that is not the ledger's (altitudes, times, footprint)."""
    mine = {v.get("id"): v for v in served if isinstance(v, dict)}
    theirs = {v.get("id"): v for v in recorded if isinstance(v, dict)}
    for vid in sorted(set(mine) | set(theirs), key=str):
        s, r = mine.get(vid), theirs.get(vid)
        if s is None or r is None:
            a.note(what, f"volume {vid} is {'not served' if s is None else 'not in the ledger'}")
            continue
        for key, name in _VOLUME_FIELDS:
            if s.get(key) != r.get(key):
                a.note(what, f"served {name} {_metres(s.get(key))}, ledger {_metres(r.get(key))}")
        for key, name in _VOLUME_TIMES:
            a.differs(what, f"{name} of volume {vid}", _t(s.get(key)), _t(r.get(key)))
        if s.get("footprint") != r.get("footprint"):
            a.note(what, f"served footprint of volume {vid} is not the ledger's")


def _newest_fields(a: _Audit, what: str, row: Row, newest: _Entry, party: str) -> None:
    a.differs(what, "version", row["version"], newest.body.get("version"))
    a.differs(what, "state", row["state"], newest.body.get("state"))
    a.differs(what, "party", row["party_id"], newest.body.get("party"))
    if newest.body.get("party") != party:
        a.note(what, f"{newest.where} is about another party's record")


def _notices(a: _Audit) -> None:
    versions: dict[str, dict[int, Row]] = defaultdict(dict)
    for v in a.data.notice_versions:
        versions[v["notice_id"]][int(v["version"])] = v
    for row in a.data.notices:
        key = row["id"]
        owner = split_key(key)[0]
        what = f"notice {key}"
        entries = a.take(f"notice:{key}")
        stored = versions.pop(key, {})
        if not entries:
            a.note(what, "no ledger entry records it")
            continue
        _newest_fields(a, what, row, entries[-1], owner)
        filed = [e for e in entries if e.type == "notice.filed"]
        if filed:
            a.differs(what, "filing time", _t(row["filed_at_s"]), filed[0].body.get("at"))
        committing = {int(e.body.get("version", 0)): e for e in entries if e.type in _NEW_VERSION}
        opened: dict[int, Any] = {}
        for number in sorted(set(committing) | set(stored)):
            vwhat = f"{what} v{number}"
            version, entry = stored.get(number), committing.get(number)
            if version is None:
                a.note(vwhat, f"is missing from the store ({entry.where if entry else '?'})")
                continue
            if entry is None:
                a.note(vwhat, "no ledger entry commits to it")
                continue
            if version["ledger_idx"] != entry.index:
                a.note(vwhat, f"its link names entry {version['ledger_idx']}, not {entry.where}")
            content = notice_content_object_of(
                key, row["party_id"], number, version["category"], version["volumes"]
            )
            if a.opened(vwhat, entry, content) is not None:
                opened[number] = content
        current = opened.get(int(row["version"]))
        if current is not None:  # the version the ledger proves: the served row must be it
            cwhat = f"{what} v{row['version']}"
            a.differs(cwhat, "category", row["category"], current["category"])
            _volumes(a, cwhat, json.loads(row["volumes"]), current["volumes"])
        _volume_versions(a, what, row, stored, opened)
    for key, stored in versions.items():
        for number in stored:
            a.note(f"notice {key} v{number}", "is stored, but the notice itself is missing")


def _volume_versions(
    a: _Audit, what: str, row: Row, stored: dict[int, Row], opened: dict[int, Any]
) -> None:
    """The version each volume last changed at, kept with each version and the served row, is
    what the versions the ledger proves say, derived as an amendment makes it (a version kept
    without them counts every volume as changed there). They decide which conflicts carry
    across an amendment, and so what a party sees of a notice under ``conflicts-only``: an
    edit that made a volume older would disclose it by a conflict with what it was."""
    since: dict[str, int] = {}
    before: dict[str, Any] = {}
    derived: dict[int, list[int]] = {}
    for number in sorted(opened):
        if number != 1 and number - 1 not in derived:
            break  # the chain the ledger proves stops here
        volumes = opened[number]["volumes"]
        kept = stored[number].get("volume_versions")
        since = {
            v["id"]: since[v["id"]] if kept is not None and before.get(v["id"]) == v else number
            for v in volumes
        }
        before = {v["id"]: v for v in volumes}
        derived[number] = [since[v["id"]] for v in volumes]
        if kept is not None:
            a.differs(f"{what} v{number}", "volume versions", _loaded(kept), derived[number])
    version = int(row["version"])
    if row.get("volume_versions") is not None and version in derived:
        served = _loaded(row["volume_versions"])
        a.differs(f"{what} v{version}", "volume versions", served, derived[version])


def _notice_volumes(a: _Audit) -> None:
    """Each volume of each stored version has its row, from the version it changed at until
    the one that changed or dropped it, and the row holds that volume: a party's suggestions,
    and what it sees of a notice it sees in part, are read from these rows (migration 0034),
    so an edit of one would move what it is told or show it what it may not see."""
    rows = {
        (r["notice_id"], r["volume_id"], int(r["since_version"])): r for r in a.data.notice_volumes
    }
    versions: dict[str, list[Row]] = defaultdict(list)
    for version in a.data.notice_versions:
        versions[version["notice_id"]].append(version)
    # Keyed by (notice, volume id, version it changed at) as the versions hold them (an edit
    # may have made them anything).
    until: dict[tuple[Any, ...], int | None] = {}  # as the versions derive it
    for key, stored in versions.items():
        held: dict[Any, tuple[Any, ...]] = {}  # by the version before
        for version in sorted(stored, key=lambda v: int(v["version"])):
            number, what = int(version["version"]), f"notice {key} v{version['version']}"
            volumes = _loaded(version["volumes"])
            kept = version.get("volume_versions")
            since = _loaded(kept) if kept is not None else [number] * len(volumes)
            if not isinstance(volumes, list) or not isinstance(since, list):
                break  # an edit the versions' own check names
            now: dict[Any, tuple[Any, ...]] = {}
            for volume, at in zip(volumes, since, strict=False):
                vid = volume.get("id") if isinstance(volume, dict) else None
                now[vid] = (key, vid, at)
                until.setdefault((key, vid, at), None)
                row = rows.get((key, vid, at))
                if row is None:
                    a.note(what, f"volume {vid} has no row of its own")
                elif _loaded(row["body"]) != volume:
                    a.note(what, f"volume {vid}'s own row (from v{at}) is not the version's")
            for vid, was in held.items():
                if now.get(vid) != was:
                    until[was] = number
            held = now
    for (key, vid, at), row in sorted(rows.items()):
        what = f"notice {key} v{at}"
        if (key, vid, at) not in until:
            a.note(what, f"volume {vid}'s own row is in no version")
        elif row["until_version"] != until[key, vid, at]:
            replaced = f"version that replaced volume {vid}"
            a.differs(what, replaced, row["until_version"], until[key, vid, at])


def _loaded(text: str) -> Any:
    """``text`` read as JSON, or as it is if it is not (an edit: a finding, not a crash)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _plans(a: _Audit) -> None:
    versions: dict[str, dict[int, Row]] = defaultdict(dict)
    for v in a.data.plan_versions:
        versions[v["plan_id"]][int(v["version"])] = v
    for row in a.data.plans:
        key = row["id"]
        what = f"plan {key}"
        entries = a.take(f"plan:{key}")
        stored = versions.pop(key, {})
        if not entries:
            a.note(what, "no ledger entry records it (its owner's private entries)")
            continue
        _newest_fields(a, what, row, entries[-1], split_key(key)[0])
        committing = {int(e.body.get("version", 0)): e for e in entries}  # newest of each
        for number in sorted(set(committing) | set(stored)):
            vwhat = f"{what} v{number}"
            version, entry = stored.get(number), committing.get(number)
            if version is None or entry is None:
                missing = "the store" if version is None else "the ledger"
                a.note(vwhat, f"is missing from {missing}")
                continue
            content = a.opened(vwhat, entry)
            if isinstance(content, dict):
                _volumes(a, vwhat, json.loads(version["volumes"]), content.get("volumes", []))
                if number == int(row["version"]):
                    _volumes(a, vwhat, json.loads(row["volumes"]), content.get("volumes", []))
    for key, stored in versions.items():
        for number in stored:
            a.note(f"plan {key} v{number}", "is stored, but the plan itself is missing")


def _conflicts(a: _Audit) -> None:
    for row in a.data.conflicts:
        what = f"conflict {row['id']}"
        entries = a.take(f"conflict:{row['id']}")
        detected = [e for e in entries if e.type == "conflict.detected"]
        if not detected:
            a.note(what, "no ledger entry records it")
            continue
        content = a.opened(what, detected[0])
        if isinstance(content, dict):
            for name, value in row.items():
                if name not in ("state", "resolved_at_s") and name in content:
                    a.differs(what, name, value, content[name])
        resolved = [e for e in entries if e.type == "conflict.resolved"]
        a.differs(what, "state", row["state"], "resolved" if resolved else "open")
        if resolved:
            a.differs(what, "resolution time", _t(row["resolved_at_s"]), resolved[0].body["at"])


def _conflict_parties(a: _Audit) -> None:
    """Each conflict is listed for the parties it is shown to (a side whose other side is a
    notice), and nothing else is: a party's list of conflicts is read from these rows, so a
    row lost would drop a conflict from it unseen."""
    expected = {
        (row[f"{mine}_party"], row["detected_at_s"], row["id"])
        for row in a.data.conflicts
        for mine, theirs in (("a", "b"), ("b", "a"))
        if row[f"{theirs}_kind"] == "notice"
    }
    found = {(r["party"], r["detected_at_s"], r["conflict_id"]) for r in a.data.conflict_parties}
    stored = {row["id"] for row in a.data.conflicts}  # one missing is named by its entries
    for party, _, conflict_id in sorted(expected - found):
        a.note(f"conflict {conflict_id}", f"not in the list of conflicts of {party!r}")
    for party, _, conflict_id in sorted(found - expected):
        if conflict_id in stored:
            a.note(f"conflict {conflict_id}", f"in the list of conflicts of {party!r}, not its")


def _told(a: _Audit, what: str, row: Row, created: _Entry) -> None:
    """The fields a notification's recipient was told, as its creation entry records them."""
    body = created.body
    for name, column in (("recipient", "recipient"), ("relay", "via"), ("kind", "kind")):
        a.differs(what, name, row[column], body.get(name if name != "relay" else "via"))
    a.differs(what, "conflict", row["conflict_id"], body.get("conflict"))
    a.differs(what, "creation time", _t(row["created_at_s"]), body.get("created_at"))
    notice = (
        split_key(row["notice_id"])[1] if row["notice_id"] and row["discloses_notice"] else None
    )
    a.differs(what, "notice", notice, body.get("notice"))
    if "ack_deadline" in body:  # entries before it was recorded do not say
        a.differs(what, "ack deadline", _t(row["ack_deadline_s"]), body["ack_deadline"])
    if "lead_time_s" in body:
        a.differs(what, "lead time", row["lead_time_s"], body["lead_time_s"])


def _notifications(a: _Audit) -> None:
    for row in a.data.notifications:
        what = f"notification {row['id']}"
        entries = a.take(f"notification:{row['id']}")
        batches = a.delivered.pop(row["id"], [])
        created = [e for e in entries if e.type == "notification.created"]
        if not created:
            a.note(what, "no ledger entry records it")
            continue
        _told(a, what, row, created[0])
        by_type = {e.type: e for e in entries}  # the newest of each
        delivered = batches[0][1].get("delivered_at") if batches else None
        if delivered is None and "notification.delivered" in by_type:  # a log before 0012
            delivered = by_type["notification.delivered"].body.get("delivered_at")
        ack, escalated = (
            by_type.get("notification.acknowledged"),
            by_type.get("notification.escalated"),
        )
        acknowledged = None if ack is None else ack.body.get("acknowledged_at")
        if delivered is None and ack is not None:  # acknowledging receives
            delivered = ack.body.get("delivered_at")
        escalated_at = None if escalated is None else escalated.body.get("escalated_at")
        if row["acknowledged_at_s"] is not None and ack is None:
            a.note(
                what,
                f"acknowledged at {_t(row['acknowledged_at_s'])}, but no acknowledgement entry",
            )
        else:
            a.differs(what, "acknowledgement time", _t(row["acknowledged_at_s"]), acknowledged)
        a.differs(what, "delivery time", _t(row["delivered_at_s"]), delivered)
        a.differs(what, "escalation time", _t(row["escalated_at_s"]), escalated_at)
        state = (
            "acknowledged"
            if acknowledged
            else "escalated"
            if escalated_at
            else "delivered"
            if delivered
            else "pending"
        )
        a.differs(what, "state", row["state"], state)
    for notification, batches in a.delivered.items():
        entry = batches[0][0]
        a.note(
            f"{entry.where} ({entry.type})",
            f"notification {notification} it records is missing from the store",
        )


def _digests(a: _Audit) -> None:
    """Each party's digest commits to the leaf hashes of its private entries: each one still
    kept, none added; those it withholds from the party, in its ``withheld`` commitment."""
    kept: dict[int, list[str]] = defaultdict(list)
    hidden: dict[int, list[str]] = defaultdict(list)
    for p in a.data.private:
        if p.digest_index is not None:
            (hidden if p.withheld else kept)[p.digest_index].append(p.leaf.hex())
    last = a.data.digest_period
    if last is not None:  # each party there then has its digest of the last period
        of_last = {
            subject: e.index
            for subject, entries in a.about.items()
            for e in entries
            if subject.startswith("private:") and e.body.get("period") == last
        }
        first = min((i for i in of_last.values() if i is not None), default=None)
        if first is None:
            a.note(f"period {last}", "its digests are missing")
        for party, index in a.party_added.items():
            if first is not None and index < first and f"private:{party}" not in of_last:
                a.note(f"party {party}", f"its digest of period {last} is missing")
    for subject in [s for s in a.about if s.startswith("private:")]:
        for entry in a.take(subject):
            what = f"{entry.where} ({entry.type} of {subject[len('private:') :]})"
            content = a.opened(what, entry)
            if not isinstance(content, dict):
                continue
            committed = list(content.get("entries", []))
            found = kept.pop(entry.index if entry.index is not None else -1, [])
            gone = [leaf for leaf in committed if leaf not in found]
            extra = [leaf for leaf in found if leaf not in committed]
            if gone:
                a.note(what, f"{len(gone)} private entries it commits to are missing")
            if extra:
                a.note(what, f"{len(extra)} private entries say it commits to them; it does not")
            withheld = hidden.pop(entry.index if entry.index is not None else -1, [])
            sealed = content.get("withheld")  # none in a digest written before
            party, period = subject[len("private:") :], content.get("period")
            if (withheld or sealed is not None) and sealed != withheld_commitment(
                a.data.withheld_key, party, period if isinstance(period, int) else -1, withheld
            ):
                a.note(what, "the private entries it withholds are not those it commits to")
    for index, leaves in [*kept.items(), *hidden.items()]:
        a.note(f"entry {index}", f"{len(leaves)} private entries name it as their digest")


def cross_check(data: AuditData) -> list[Finding]:
    """Every way the records the store serves and the entries of its ledger differ, each
    named (empty: they agree)."""
    a = _Audit(data)
    _parties(a)
    _agreements(a)
    _notices(a)
    _notice_volumes(a)
    _plans(a)
    _conflicts(a)
    _conflict_parties(a)
    _notifications(a)
    _digests(a)
    for subject, entries in a.about.items():
        a.note(
            f"{entries[0].where} ({entries[0].type})",
            f"its subject {subject} is missing from the store",
        )
    return a.findings
