"""Log lines as text or as one JSON object each, naming the request, mail and job they concern, never a secret."""
from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
from contextlib import contextmanager
from functools import wraps
from typing import Callable, Iterator

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# What a line is about: set by the web (request id), the pipeline (mail id) and the worker middleware
# (actor, message id, and the mail or job row the actor works on).
FIELDS = ("request_id", "mail_id", "job_id", "actor", "message_id")
_vars = {name: contextvars.ContextVar(f"ixdesk_log_{name}", default=None) for name in FIELDS}

Tokens = list[tuple[contextvars.ContextVar, contextvars.Token]]


def bind(**fields) -> Tokens:
    """Set context fields for the lines that follow in this thread; give the result to unbind()."""
    return [(_vars[name], _vars[name].set(value)) for name, value in fields.items()]


def unbind(tokens: Tokens) -> None:
    for var, token in reversed(tokens):
        var.reset(token)


@contextmanager
def bound(**fields) -> Iterator[None]:
    tokens = bind(**fields)
    try:
        yield
    finally:
        unbind(tokens)


def binding(**pickers: Callable) -> Callable:
    """Decorate a function so the lines written while it runs carry fields picked from its arguments."""
    def decorate(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapped(*args, **kwargs):
            with bound(**{name: pick(*args, **kwargs) for name, pick in pickers.items()}):
                return fn(*args, **kwargs)
        return wrapped
    return decorate


def current() -> dict:
    """The context fields set in this thread (None ones left out)."""
    return {name: value for name, var in _vars.items() if (value := var.get()) is not None}


# Crockford base32 as in models.tokens.TOKEN_RE: the project part is no secret, the HMAC after it is.
_B32 = "0-9A-HJKMNP-TV-Z"
SECRETS = (
    # Passwords in URLs: imap://user:pass@, postgresql://user:pass@, redis://:pass@, amqp://user:pass@ ...
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*):[^\s@]*@"), r"\1:***@"),
    (re.compile(r"(?i)([?&;\s]password=)[^&\s]+"), r"\1***"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 ***"),
    (re.compile(r"\bixd_[A-Za-z0-9_-]{4,}"), "ixd_***"),
    (re.compile(rf"(?i)\b(IX-[{_B32}]{{1,12}}[{_B32}*~$=U])-[{_B32}]{{13}}(?![0-9A-Z])"), r"\1-***"),
)


def redact(text: str) -> str:
    """text with URL passwords, bearer tokens, API secrets and reply-token HMACs replaced by ***."""
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


class Redact(logging.Filter):
    """Rewrites a record's message and traceback without secrets, whatever the format that follows."""

    _plain = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the handler's to report, not ours to raise
            return True
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO, UTC), level, logger, message, the context fields, exc when any."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
        line = {"time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        context = current()
        for name in FIELDS:  # a field passed with extra={...} wins over the thread's context
            value = getattr(record, name, None)
            if value is None:
                value = context.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def prepare(handler: logging.Handler, fmt: str) -> None:
    """Give a handler the redaction filter (once) and, for fmt="json", the JSON formatter."""
    if not any(isinstance(f, Redact) for f in handler.filters):
        handler.addFilter(Redact())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
