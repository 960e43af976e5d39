"""A run's record as a server keeps it: parsed strictly whatever was put there, and the checks
on remediate's folder and the paths a record names (pure: no server)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from remediate.model.record import FORMAT, parse
from remediate.support.errors import RemediateError
from remediate.winrm.records import RecordStore, check_run_id, owners_only, private

RUN = "20261129T162335-1a2b3c"


def record(**changes: Any) -> dict[str, Any]:
    text = "name: x\n"
    data: dict[str, Any] = {
        "format": FORMAT,
        "run": RUN,
        "kind": "apply",
        "playbook": {
            "name": "x",
            "source": "x.yaml",
            "digest": hashlib.sha256(text.encode()).hexdigest(),
            "text": text,
        },
        "operator": "alice@ws",
        "workstation": "ws",
        "pid": 1,
        "server": "ex01",
        "servers": ["ex01"],
        "hosts": {},
        "connection": {},
        "handlers": {},
        "status": "applied",
        "started": "2026-11-29T16:00:00+00:00",
        "steps": [],
    }
    data.update(changes)
    return data


def test_a_good_record_reads_back() -> None:
    parsed = parse(json.dumps(record()).encode(), "ex01", "r.json")
    assert parsed.run == RUN and parsed.to_bytes() == parse(parsed.to_bytes(), "ex01", "r.json").to_bytes()


def test_how_the_run_reached_its_servers_merges_from_format_1_and_2_records() -> None:
    from remediate.model.record import merged_hosts, own_hosts

    every = {
        "given": ["-i lab.yaml"],
        "servers": {s: {"address": f"{s}.lab", "port": 5986} for s in ("ex01", "ex02", "ex03")},
    }
    assert own_hosts(every, "ex02", every=False) == {
        "given": ["-i lab.yaml"],
        "servers": {"ex02": every["servers"]["ex02"]},
    }
    assert own_hosts(every, "ex01", every=True) == every
    assert own_hosts({"given": ["--host x"]}, "ex01", every=False) == {
        "given": ["--host x"]
    }  # nothing to cut

    def parsed(server: str, hosts: dict[str, Any], version: int) -> Any:
        return parse(
            json.dumps(record(format=version, server=server, hosts=hosts)).encode(), server, "r.json"
        )

    format_2 = [parsed(s, own_hosts(every, s, s == "ex01"), 2) for s in ("ex03", "ex02", "ex01")]
    assert merged_hosts(format_2) == every
    assert merged_hosts([parsed(s, own_hosts(every, s, False), 2) for s in ("ex02", "ex03")])[
        "servers"
    ].keys() == {"ex02", "ex03"}
    assert merged_hosts([parsed(s, every, 1) for s in ("ex02", "ex01")]) == every  # format 1: all in each

    # attack: ex02's record edited to send ex01's way in elsewhere, read after ex01's own
    forged = {
        "servers": {"ex01": {"address": "evil.example", "port": 5986}, "ex02": every["servers"]["ex02"]}
    }
    found = merged_hosts([parsed("ex01", own_hosts(every, "ex01", False), 2), parsed("ex02", forged, 2)])
    assert found["servers"]["ex01"] == every["servers"]["ex01"]
    claims_all = parsed("ex02", {"servers": {**forged["servers"]}}, 2).model_copy(
        update={"organization_via": "ex02"}
    )
    found = merged_hosts([claims_all, parsed("ex01", own_hosts(every, "ex01", False), 2)])
    assert found["servers"]["ex01"] == every["servers"]["ex01"]  # its own record's word wins


@pytest.mark.parametrize(
    ("content", "reference"),
    [
        (b"[" * 100_000, "record-unreadable"),  # nested past the parser's depth
        (b"\xff\xfe{", "record-unreadable"),
        (b"null", "record-unreadable"),
        (json.dumps(record(format=FORMAT + 1, novelty=True)).encode(), "record-too-new"),
        (json.dumps(record(extra="field")).encode(), "record-unreadable"),
        (json.dumps(record(run="../../x")).encode(), "record-unreadable"),
        (json.dumps(record(kind="delete-everything")).encode(), "record-unreadable"),
        (
            json.dumps(
                record(playbook={"name": "x", "source": "s", "digest": "0" * 64, "text": "y"})
            ).encode(),
            "record-disagrees",
        ),
    ],
    ids=[
        "deep",
        "not utf-8",
        "not an object",
        "newer format",
        "unknown field",
        "run id",
        "kind",
        "text vs digest",
    ],
)
def test_a_crafted_record_is_an_error_naming_the_server_and_file(content: bytes, reference: str) -> None:
    with pytest.raises(RemediateError) as raised:
        parse(content, "ex01", "C:\\ProgramData\\remediate\\runs\\x\\record.json")
    assert raised.value.reference == reference
    assert raised.value.message.startswith("ex01: C:\\ProgramData\\remediate\\runs\\x\\record.json")


class Folder:
    name = "ex01"

    def expand(self, path: str) -> str:
        return path.replace("%ProgramData%", "C:\\ProgramData")


@pytest.mark.parametrize(
    ("path", "inside"),
    [
        (f"C:\\ProgramData\\remediate\\runs\\{RUN}\\1.before", True),
        (f"c:\\programdata\\REMEDIATE\\runs\\{RUN}\\1.before", True),
        ("C:\\ProgramData\\remediate\\runs\\..\\..\\Windows\\win.ini", False),
        ("C:\\ProgramData\\remediate\\runs\\x:stream", False),
        ("C:\\ProgramData\\remediate\\runs\\\\x", False),
        ("C:\\ProgramData\\remediate2\\x", False),
        ("C:\\ProgramData\\remediate", False),
        ("\\\\server\\share\\remediate\\x", False),
    ],
)
def test_a_snapshot_path_must_be_a_plain_file_in_remediates_folder(path: str, inside: bool) -> None:
    assert RecordStore(Folder()).owns(path) is inside  # type: ignore[arg-type]


def test_run_ids_are_checked_before_they_become_paths() -> None:
    assert check_run_id(RUN) == RUN
    for bad in ("..", RUN + "\\..", "20261129T162335-1A2B3C", ""):
        with pytest.raises(RemediateError):
            check_run_id(bad)


@pytest.mark.parametrize(
    ("sddl", "is_private"),
    [
        ("O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)", True),
        ("O:BAG:SYD:P(A;OICI;FA;;;S-1-5-18)(A;OICI;FA;;;S-1-5-32-544)", True),
        ("O:BAG:SYD:P(D;OICI;FA;;;BU)(A;OICI;FA;;;BA)", True),  # a deny ACE takes nothing away
        ("O:SYG:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)", False),  # not protected: inherits
        ("O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)", False),  # Users may read
        ("O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;WD)", False),  # Everyone
        ("O:SYG:SYD:P", False),  # an empty DACL: nobody, not even SYSTEM
        ("O:SYG:SY", False),  # no DACL: everyone
    ],
)
def test_only_a_protected_folder_for_system_and_administrators_is_private(
    sddl: str, is_private: bool
) -> None:
    assert private(sddl) is is_private
    if is_private:
        assert owners_only(sddl)
