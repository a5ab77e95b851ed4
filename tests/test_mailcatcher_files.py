"""The mail catcher keeps what it receives private: reports carry the company's numbers."""

from __future__ import annotations

import os
import smtplib
import stat
from email.message import EmailMessage
from pathlib import Path

from revops.reports.mailcatcher import MailCatcher


def test_received_messages_are_owner_only_files_in_an_owner_only_folder(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a usual umask: files 0644 and folders 0755 unless revops says so
    try:
        with MailCatcher(tmp_path / "outbox") as catcher:
            message = EmailMessage()
            message["From"] = "revops@example.com"
            message["To"] = "ceo@example.com"
            message["Subject"] = "Weekly numbers"
            message.set_content("pipeline 1,234,000")
            with smtplib.SMTP(catcher.host, catcher.port) as smtp:
                smtp.send_message(message)
            files = list((tmp_path / "outbox").glob("*.eml"))
    finally:
        os.umask(old)
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "outbox").stat().st_mode) == 0o700
    assert not list((tmp_path / "outbox").glob(".*.partial"))
