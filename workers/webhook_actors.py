"""Webhook delivery: POST one signed delivery; failures retry with backoff until the attempts run out."""
from __future__ import annotations

import datetime as dt
import http.client
import logging
import urllib.error
import urllib.request

import dramatiq
from dramatiq.common import compute_backoff

from workers.broker import broker  # noqa: F401  (the broker must exist before any actor)
from models import webhooks
from models.webhooks import WebhookDelivery

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 16  # with the backoff below: retries over roughly two to four hours
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60 * 60_000
TIMEOUT_SECONDS = 10


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirected POST turns into a GET without the body; a receiver that moved must be registered again.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS) -> tuple[int | None, str]:
    """POST body; returns (status code or None, error text, empty when the receiver answered 2xx)."""
    from urllib.parse import urlparse
    internal = webhooks.internal_address(urlparse(url).hostname or "")
    if internal:  # checked again at send time: a DNS record may have changed since the hook was registered
        return None, f"refused: the receiver's name now points at an internal address ({internal})"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as resp:
            return resp.status, ""
    except urllib.error.HTTPError as exc:
        # The status line only: a response body is the receiver's business, and must not leak into our log.
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(reason).__name__}: {reason}"


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt: doubling from a second, with jitter, at most an hour."""
    _, delay_ms = compute_backoff(attempts - 1, factor=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS)
    return dt.timedelta(milliseconds=delay_ms)


@dramatiq.actor(queue_name="webhooks", max_retries=MAX_ATTEMPTS - 1, min_backoff=MIN_BACKOFF_MS,
                max_backoff=MAX_BACKOFF_MS, time_limit=60 * 1000, on_retry_exhausted="webhook_retries_exhausted")
def deliver_webhook(delivery_id: int) -> None:
    """POST one delivery; a failed attempt is recorded and retried; a delivery done or held elsewhere is left alone."""
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id)
    if delivery is None or not delivery.claim():
        return
    if not delivery.webhook.active:
        delivery.attempt_failed(None, "the webhook was deactivated", retry_in=None)
        return
    try:
        status, error = post(delivery.webhook.url, delivery.body(), delivery.headers())
    except BaseException as exc:  # time limit or shutdown mid-request: hand the delivery back for the retry
        delivery.attempt_failed(None, f"stopped: {type(exc).__name__}", retry_in=backoff(delivery.attempts))
        raise
    if not error:
        delivery.delivered(status)
        return
    wait = backoff(delivery.attempts)
    delivery.attempt_failed(status, error, retry_in=wait)
    log.warning("webhook delivery %s to %s failed (attempt %d): %s", delivery.id, delivery.webhook.url,
                delivery.attempts, error)
    # Retry: no traceback in the log, and the wait recorded on the row is the one the broker applies.
    raise dramatiq.Retry(error, delay=int(wait.total_seconds() * 1000))


@dramatiq.actor(queue_name="webhooks", max_retries=3)
def webhook_retries_exhausted(message: dict, retry_info: dict) -> None:
    """The last attempt of a delivery failed: it is marked failed (an admin may send it again)."""
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == message["args"][0])
    if delivery is not None and delivery.give_up():
        log.warning("webhook delivery %s failed after %d attempts", delivery.id, delivery.attempts)


def requeue_stalled() -> int:
    """Wake deliveries whose wake-up was lost; those out of attempts are marked failed instead."""
    sent = 0
    for delivery in webhooks.stalled():
        if delivery.attempts >= MAX_ATTEMPTS:
            if delivery.state == "pending":
                delivery.give_up()
            continue
        deliver_webhook.send(delivery.id)
        sent += 1
    return sent


webhooks.set_sender(deliver_webhook.send)
