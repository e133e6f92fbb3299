"""Delivering a finished message: over SMTP, or as an .eml file when no SMTP server is configured."""
from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import unquote, urlparse

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The message could not be handed over; `permanent` says whether retrying can help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def deliver(msg: EmailMessage, smtp_url: str, outbox_dir: Path, timeout: float = 30) -> str:
    """Send msg; returns where it went ('smtp://host' or the .eml path). Raises DeliveryError."""
    if not msg["Message-ID"]:
        domain = msg["From"].addresses[0].domain if msg["From"] else "localhost"
        msg["Message-ID"] = make_msgid(domain=domain or "localhost")
    if not smtp_url:
        return _write(msg, outbox_dir)
    url = urlparse(smtp_url)
    try:
        if url.scheme == "smtps":
            client = smtplib.SMTP_SSL(url.hostname, url.port or 465, timeout=timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(url.hostname, url.port or 25, timeout=timeout)
        with client:
            if url.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            refused = client.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{rcpt}: {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
                           for rcpt, (code, text) in exc.recipients.items())
        # 4xx is "try later" (greylisting, a full mailbox); only 5xx for everyone is final.
        raise DeliveryError(f"recipients refused: {detail}", permanent=all(c >= 500 for c in codes)) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=500 <= exc.smtp_code < 600) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"could not reach {url.hostname}: {exc}") from None
    if refused:
        log.warning("some recipients refused: %s", refused)
    return f"smtp://{url.hostname}"


def _write(msg: EmailMessage, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    name = msg["Message-ID"].strip("<>").replace("/", "_").replace("@", "_at_")
    path = folder / f"{name}.eml"
    path.write_bytes(msg.as_bytes())
    return str(path)
