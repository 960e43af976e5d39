"""Logging: JSON or console rendering, and secrets that never reach a log line."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from remediate.support import logs

SECRET = "Tr0ub4dor&3-correct-horse"


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_when_not_a_terminal() -> None:
    stream = io.StringIO()
    logs.configure(stream=stream)
    logs.get_logger("remediate.test").warning("plan ready", hosts=2)
    [record] = lines(stream)
    assert record["event"] == "plan ready" and record["hosts"] == 2 and record["level"] == "warning"


def test_console_when_asked() -> None:
    stream = io.StringIO()
    logs.configure(log_format="console", stream=stream)
    logs.get_logger("remediate.test").warning("plan ready", hosts=2)
    assert "plan ready" in stream.getvalue() and "hosts=2" in stream.getvalue()


def test_secret_keys_are_masked() -> None:
    stream = io.StringIO()
    logs.configure(stream=stream)
    logs.get_logger("remediate.test").warning(
        "connecting", password=SECRET, headers={"Authorization": "Negotiate abc"}, user="CONTOSO\\admin"
    )
    [record] = lines(stream)
    assert record["password"] == "***" and record["headers"] == {"Authorization": "***"}
    assert record["user"] == "CONTOSO\\admin"


def test_registered_secrets_are_masked_everywhere(tmp_path: Path) -> None:
    stream = io.StringIO()
    log_file = tmp_path / "remediate.log"
    logs.configure(stream=stream, log_file=log_file, verbosity=1)
    logs.register_secret(SECRET)
    logs.get_logger("remediate.test").info("bad command", detail=f"-Password {SECRET}", items=[SECRET])
    logging.getLogger("pypsrp.wsman").warning("library said %s", SECRET)
    output = stream.getvalue() + log_file.read_text()
    assert SECRET not in output
    assert output.count("***") >= 3
    assert logs.mask_secrets(f"x{SECRET}y") == "x***y"


def test_quiet_by_default_for_info() -> None:
    stream = io.StringIO()
    logs.configure(stream=stream)
    logs.get_logger("remediate.test").info("details")
    assert stream.getvalue() == ""
