"""Sending texts: a backend interface with Twilio (REST) and a console backend that records instead."""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


class SmsDeliveryError(Exception):
    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Sent:
    state: str  # sent | recorded
    provider_id: str | None = None


class ConsoleBackend:
    """The default: nothing leaves the machine; the text is logged and marked recorded."""

    name = "console"

    def send(self, to: str, body: str) -> Sent:
        log.info("SMS (console backend, not sent) to %s: %s", to, body)
        return Sent("recorded")


class TwilioBackend:
    """Twilio's REST API through its own client; `api_url` points it elsewhere (a proxy, a test stand-in)."""

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, sender: str, api_url: str = ""):
        from twilio.rest import Client
        self.client = Client(account_sid, auth_token)
        if api_url:
            self.client.api.base_url = api_url.rstrip("/")
        self.sender = sender

    def send(self, to: str, body: str) -> Sent:
        from twilio.base.exceptions import TwilioException, TwilioRestException
        sender = {"messaging_service_sid": self.sender} if self.sender.startswith("MG") else {"from_": self.sender}
        try:
            message = self.client.messages.create(to=to, body=body, **sender)
        except TwilioRestException as exc:
            # 4xx: Twilio refused this message (bad number, opted out at the carrier): retrying will not help.
            raise SmsDeliveryError(f"Twilio {exc.status}: {exc.msg}", permanent=400 <= exc.status < 500) from None
        except (TwilioException, OSError) as exc:
            raise SmsDeliveryError(f"Twilio unreachable: {exc}", permanent=False) from None
        return Sent("sent", message.sid)


def backend_from(settings):
    if settings.sms_backend == "twilio":
        return TwilioBackend(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from,
                             settings.twilio_api_url)
    return ConsoleBackend()
