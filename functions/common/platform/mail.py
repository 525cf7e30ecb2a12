"""Outgoing mail over SMTP (a real server; locally an SMTP sink that prints links)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from functions.common.platform.config import get_settings

log = logging.getLogger(__name__)


def send(to: str, subject: str, body: str) -> None:
    """Send a plain-text message; failures are logged, not raised (mail must not break sign-up)."""
    s = get_settings()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = s.mail_from, to, subject
    msg.set_content(body)
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as e:
        log.error("mail not sent", extra={"subject": subject, "error": type(e).__name__})
