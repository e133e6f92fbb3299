"""Webhook delivery: POST one signed delivery; failures retry with backoff until the attempts run out."""
from __future__ import annotations

import datetime as dt
import http.client
import logging
import socket
import ssl
from typing import Callable
from urllib.parse import urlparse

import dramatiq
from dramatiq.common import compute_backoff

from workers.broker import broker  # noqa: F401  (the broker must exist before any actor)
from models import net_guard, webhooks
from models.webhooks import WebhookDelivery

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 16  # with the backoff below: retries over roughly two to four hours
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60 * 60_000
TIMEOUT_SECONDS = 10


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS,
         resolve: Callable[[str], list[str]] = net_guard.resolve,
         context: ssl.SSLContext | None = None) -> tuple[int | None, str]:
    """POST body; returns (status code or None, error text, empty when the receiver answered 2xx).

    The name is resolved once and the connection goes to an address that was checked, so a DNS answer that
    changes between the check and the connect cannot lead inside the network; TLS (server name and certificate)
    and the Host header still use the name. Raises AddressRefused when the name points at a refused address.
    Redirects are not followed: a redirected POST turns into a GET without the body, and its target is unchecked.
    """
    parsed = urlparse(url)
    https = parsed.scheme == "https"
    try:
        port = parsed.port or (443 if https else 80)
        addresses = webhooks.receiver_addresses(parsed.hostname or "", resolve)
        sock = _connect(addresses, port, timeout)
        if https:
            sock = (context or ssl.create_default_context()).wrap_socket(sock, server_hostname=parsed.hostname)
        connection = (http.client.HTTPSConnection if https else http.client.HTTPConnection)(
            parsed.hostname, port, timeout=timeout)
        connection.sock = sock  # already open to the checked address: http.client never resolves the name
        try:
            connection.request("POST", (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else ""),
                               body=body, headers=headers)
            resp = connection.getresponse()
        finally:
            connection.close()
    except webhooks.AddressRefused:
        raise
    except (http.client.HTTPException, OSError, ValueError, UnicodeError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= resp.status < 300:
        return resp.status, ""
    # The status line only: a response body is the receiver's business, and must not leak into our log.
    return resp.status, f"HTTP {resp.status} {resp.reason}"


def _connect(addresses: list[str], port: int, timeout: float) -> socket.socket:
    """A connection to the first of the checked addresses that answers."""
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


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
    except webhooks.AddressRefused as exc:  # not retried: the hook stays refused until its name or the setting changes
        delivery.attempt_failed(None, f"refused: {exc}", retry_in=None)
        log.warning("webhook delivery %s refused: %s", delivery.id, exc)
        return
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
