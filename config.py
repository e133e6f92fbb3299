"""Settings from the environment, read once, typed and validated at start."""
from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent
VAR_DIR = ROOT / "var"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
EMBEDDED_BROKERS = ("", "embedded", "stub")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Config:
    database_url: str
    broker_url: str
    secret_key: str
    storage_dir: Path
    log_level: str
    broker_namespace: str = "ixdesk"
    cookie_secure: bool = False
    max_upload_mb: int = 25
    catalog_dir: Path | None = None
    smtp_url: str = ""  # empty: outgoing mail is written as .eml files under ./var/outbox
    mail_from: str = "ixdesk <ixdesk@localhost>"
    outbox_dir: Path = VAR_DIR / "outbox"  # where mail goes as .eml files when SMTP_URL is unset
    reply_to: str = ""  # the shared mailbox replies go to (plus-addressed per project); default: MAIL_FROM's address
    digest_hour: int = 12  # UTC hour after which the morning digests go out (12 UTC = 7 am Eastern)
    base_url: str = "http://127.0.0.1:5000"  # how links in emails reach this desk
    desk_timezone: str = "America/Los_Angeles"  # decides what "today" is for clocks and the day page
    sms_backend: str = "console"  # console (records, sends nothing) | twilio
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""  # our number (E.164) or a Messaging Service SID (MG...)
    twilio_api_url: str = ""  # empty: Twilio's own; a proxy or test stand-in otherwise
    # Mailboxes the watcher reads: imap(s)://user:pass@host/Folder or maildir:path (embedded default).
    inbox_urls: tuple[str, ...] = ()
    installer: dict = field(default_factory=dict)  # name, license, phone, email: prefilled into utility forms
    api_rate_limit: int = 120  # JSON API requests per token per minute
    # Where documents, raw mail and packets live: "" keeps them under storage_dir (one machine);
    # s3://bucket/prefix puts them in an S3-compatible object store every node shares.
    storage_url: str = ""
    log_format: str = "text"  # text | json (one JSON object per line, for log collectors)
    api_user_rate_limit: int = 240  # ... and per user across all their tokens
    # Reverse proxies in front of the web app whose X-Forwarded-For / -Proto are believed (0: none, the
    # client is the connecting address). Sign-in limits count by that client address.
    trusted_proxies: int = 0
    database_pool_size: int = 10  # PostgreSQL connections kept per process (0: a new connection per request)
    # Reply-token keys, current first (TOKEN_KEYS; else derived from SECRET_KEY): web and workers alike.
    token_keys: tuple[str, ...] = ()
    # Sender authentication (RFC 8601): whose Authentication-Results count, whose ARC seals, DKIM key lookups.
    mail_authserv_ids: tuple[str, ...] = ()
    mail_receiving_hosts: tuple[str, ...] = ()
    arc_trusted_sealers: tuple[str, ...] = ()
    mail_dns: str = ""
    mail_verify_dkim: bool = True
    # Start the in-process Dramatiq worker (embedded mode only).
    embedded_worker: bool = True
    testing: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url in EMBEDDED_BROKERS

    @property
    def mail_address(self) -> str:
        from email.utils import parseaddr
        return parseaddr(self.mail_from)[1].lower()

    @property
    def production(self) -> bool:
        return not self.embedded_broker

    def with_overrides(self, overrides: dict | None) -> "Config":
        if not overrides:
            return self
        known = {k: v for k, v in overrides.items() if k in self.__dataclass_fields__}
        extra = {**self.extra, **{k: v for k, v in overrides.items() if k not in known}}
        return replace(self, **known, extra=extra)


def _database_url(env: dict) -> str:
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{VAR_DIR / 'ixdesk.db'}"
    scheme = urlparse(url).scheme
    if scheme not in ("sqlite", "postgres", "postgresql", "psycopg3"):
        raise ConfigError(
            f"DATABASE_URL: unsupported scheme {scheme!r}; use sqlite:///path or postgresql://user@host/db")
    if scheme != "sqlite" and not urlparse(url).path.strip("/"):
        raise ConfigError("DATABASE_URL: the URL names no database (expected postgresql://user@host:5432/dbname)")
    return url


def _broker_url(env: dict) -> str:
    url = env.get("BROKER_URL", "").strip()
    if url in EMBEDDED_BROKERS:
        return "embedded" if url == "" else url
    scheme = urlparse(url).scheme
    if scheme not in ("redis", "rediss", "amqp", "amqps"):
        raise ConfigError(
            f"BROKER_URL: unsupported scheme {scheme!r}; use 'embedded', redis://host:6379/0 or amqp://user:pass@host:5672")
    return url


def _secret_key(env: dict, embedded: bool) -> str:
    key = env.get("SECRET_KEY", "").strip()
    if key:
        if len(key) < 16:
            raise ConfigError("SECRET_KEY: must be at least 16 characters")
        return key
    if not embedded:
        raise ConfigError("SECRET_KEY: required in production (BROKER_URL is not embedded); "
                          "set it to a long random string, e.g. `python -c 'import secrets;print(secrets.token_hex(32))'`")
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true/false, got {raw!r}")


def _choice(env: dict, name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def _storage_url(env: dict) -> str:
    """STORAGE_URL: empty (files under STORAGE_DIR) or s3://bucket[/prefix]."""
    raw = env.get("STORAGE_URL", "").strip()
    if not raw:
        return ""
    parsed = urlparse(raw)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ConfigError(f"STORAGE_URL: expected s3://bucket/prefix, got {raw!r}")
    return raw


def _int(env: dict, name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _smtp_url(env: dict) -> str:
    url = env.get("SMTP_URL", "").strip()
    if url and urlparse(url).scheme not in ("smtp", "smtps", "smtp+starttls"):
        raise ConfigError("SMTP_URL: use smtp://host:25, smtp+starttls://user:pass@host:587 or smtps://user:pass@host:465")
    if url and not urlparse(url).hostname:
        raise ConfigError("SMTP_URL: the URL names no host")
    return url


def _inbox_urls(env: dict, embedded: bool) -> tuple[str, ...]:
    raw = env.get("INBOX_URL")
    if raw is None:
        return (f"maildir:{VAR_DIR / 'mail'}",) if embedded else ()
    urls = tuple(u for u in re.split(r"[\s,]+", raw.strip()) if u)
    for url in urls:
        scheme = url.split(":", 1)[0].lower()
        if scheme not in ("imap", "imaps", "maildir"):
            raise ConfigError(f"INBOX_URL: {url.split('@')[-1]!r} must start with imaps://, imap:// or maildir:")
        if scheme in ("imap", "imaps"):
            from inbox.imap import parse_url
            try:
                parse_url(url)
            except ValueError as exc:
                raise ConfigError(f"INBOX_URL: {exc}") from None
        elif not url[len("maildir:"):].strip():
            raise ConfigError("INBOX_URL: maildir: needs a folder, e.g. maildir:./var/mail")
    return urls


def _sms(env: dict) -> dict:
    backend = env.get("SMS_BACKEND", "").strip().lower() or "console"
    if backend not in ("console", "twilio"):
        raise ConfigError(f"SMS_BACKEND: expected console or twilio, got {backend!r}")
    values = {"sms_backend": backend, "twilio_account_sid": env.get("TWILIO_ACCOUNT_SID", "").strip(),
              "twilio_auth_token": env.get("TWILIO_AUTH_TOKEN", "").strip(),
              "twilio_from": env.get("TWILIO_FROM", "").strip(), "twilio_api_url": env.get("TWILIO_API_URL", "").strip()}
    if backend == "twilio":
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"):
            if not values[name.lower()]:
                raise ConfigError(f"{name}: required when SMS_BACKEND=twilio")
        if not re.match(r"^(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32})$", values["twilio_from"]):
            raise ConfigError("TWILIO_FROM: an E.164 number such as +14155550100 or a Messaging Service SID (MG...)")
    if values["twilio_api_url"] and urlparse(values["twilio_api_url"]).scheme not in ("http", "https"):
        raise ConfigError("TWILIO_API_URL: an http(s):// URL")
    return values


def _reply_to(env: dict) -> str:
    raw = env.get("REPLY_TO", "").strip().lower()
    if raw and (not re.match(r"^[^@\s<>+]+@[a-z0-9.-]+\.[a-z]{2,}$", raw)):
        raise ConfigError(f"REPLY_TO: {raw!r} must be a plain mailbox such as desk@example.com (no + part)")
    return raw


def _mail_from(env: dict) -> str:
    from email.utils import parseaddr
    raw = env.get("MAIL_FROM", "").strip() or "ixdesk <ixdesk@localhost>"
    name, addr = parseaddr(raw)
    if "@" not in addr or any(c in raw for c in "\r\n"):
        raise ConfigError(f"MAIL_FROM: {raw!r} is not an address like 'ixdesk <desk@example.com>'")
    return raw


def _timezone(env: dict) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    name = env.get("DESK_TIMEZONE", "").strip() or "America/Los_Angeles"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"DESK_TIMEZONE: {name!r} is not a time zone name such as America/New_York") from None
    return name


def _base_url(env: dict) -> str:
    url = env.get("BASE_URL", "").strip() or "http://127.0.0.1:5000"
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).hostname:
        raise ConfigError(f"BASE_URL: {url!r} is not an http(s) URL such as https://desk.example.com")
    return url.rstrip("/")


def _catalog_dir(env: dict) -> Path | None:
    raw = env.get("CATALOG_DIR", "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_dir():
        raise ConfigError(f"CATALOG_DIR: {raw!r} is not a folder")
    return path.resolve()


HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def _hosts(env: dict, name: str) -> tuple[str, ...]:
    hosts = tuple(h.lower().rstrip(".") for h in re.split(r"[\s,]+", env.get(name, "").strip()) if h)
    for host in hosts:
        if not HOSTNAME.match(host):
            raise ConfigError(f"{name}: {host!r} is not a host or domain name such as mx.example.com")
    return hosts


def _mail_dns(env: dict) -> str:
    raw = env.get("MAIL_DNS", "").strip()
    if raw.startswith("file:"):
        if not Path(raw[5:]).is_file():
            raise ConfigError(f"MAIL_DNS: {raw[5:]!r} is not a file (expected file:records.json)")
        return raw
    if raw and not re.match(r"^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|[0-9a-fA-F:]+)$", raw):
        raise ConfigError(f"MAIL_DNS: {raw!r} is not a resolver address such as 127.0.0.53 or 10.0.0.2:53")
    return raw


def _token_keys(env: dict, secret: str) -> tuple[str, ...]:
    """TOKEN_KEYS (comma-separated, current first), else one key derived from SECRET_KEY."""
    import hashlib
    import hmac
    keys = tuple(k for k in re.split(r"[\s,]+", env.get("TOKEN_KEYS", "").strip()) if k)
    for key in keys:
        if len(key) < 16:
            raise ConfigError("TOKEN_KEYS: each key must be at least 16 characters")
    if keys:
        return keys
    if not secret:
        return ()
    return (hmac.new(secret.encode(), b"ixdesk reply tokens", hashlib.sha256).hexdigest(),)


def load(env: dict | None = None, overrides: dict | None = None, web: bool = True) -> Config:
    """Read and validate every setting, then apply overrides; raises ConfigError naming the bad variable.

    web=False (workers, CLIs): the session SECRET_KEY is not needed, so its absence is no error.
    """
    env = dict(os.environ if env is None else env)
    overrides = overrides or {}
    broker_url = _broker_url(env)
    embedded = broker_url in EMBEDDED_BROKERS
    level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}, got {level!r}")
    storage = Path(env.get("STORAGE_DIR", "").strip() or VAR_DIR / "storage")
    namespace = env.get("BROKER_NAMESPACE", "ixdesk").strip() or "ixdesk"
    secret = overrides.get("secret_key") or (_secret_key(env, embedded) if web else env.get("SECRET_KEY", ""))
    # Workers check reply tokens: in the embedded mode they share the web's generated key file.
    token_secret = secret or (_secret_key(env, embedded) if embedded else "")
    return Config(
        database_url=_database_url(env),
        broker_url=broker_url,
        secret_key=secret,
        storage_dir=storage.resolve(),
        storage_url=_storage_url(env),
        log_format=_choice(env, "LOG_FORMAT", ("text", "json"), "text"),
        log_level=level,
        broker_namespace=namespace,
        cookie_secure=_bool(env, "COOKIE_SECURE", default=not embedded),
        max_upload_mb=_int(env, "MAX_UPLOAD_MB", 25, 1, 2048),
        catalog_dir=_catalog_dir(env),
        smtp_url=_smtp_url(env),
        mail_from=_mail_from(env),
        reply_to=_reply_to(env),
        outbox_dir=Path(env.get("OUTBOX_DIR", "").strip() or VAR_DIR / "outbox").resolve(),
        digest_hour=_int(env, "DIGEST_HOUR", 12, 0, 23),
        base_url=_base_url(env),
        desk_timezone=_timezone(env),
        inbox_urls=_inbox_urls(env, embedded),
        **_sms(env),
        installer={k: env.get(f"INSTALLER_{k.upper()}", "").strip()[:200] for k in ("name", "license", "phone", "email")},
        api_rate_limit=_int(env, "API_RATE_LIMIT", 120, 1, 100_000),
        api_user_rate_limit=_int(env, "API_USER_RATE_LIMIT", 240, 1, 100_000),
        trusted_proxies=_int(env, "TRUSTED_PROXIES", 0, 0, 5),
        database_pool_size=_int(env, "DATABASE_POOL_SIZE", 10, 0, 1000),
        embedded_worker=embedded,
        token_keys=_token_keys(env, token_secret),
        mail_authserv_ids=_hosts(env, "MAIL_AUTHSERV_ID"),
        mail_receiving_hosts=_hosts(env, "MAIL_RECEIVING_HOSTS"),
        arc_trusted_sealers=_hosts(env, "ARC_TRUSTED_SEALERS"),
        mail_dns=_mail_dns(env),
        mail_verify_dkim=_bool(env, "MAIL_VERIFY_DKIM", True),
    ).with_overrides(overrides)


def configure_logging(level: str, fmt: str = "text") -> None:
    """Log to stderr as text, or one JSON object per line (fmt="json"); secrets are redacted either way.

    Handlers already on the root logger (the dramatiq CLI's, in its worker processes) get the same
    filter and format instead of a second handler."""
    import logs
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(logs.TEXT_FORMAT))
        root.addHandler(handler)
    for handler in root.handlers:
        logs.prepare(handler, fmt)
    root.setLevel(level)
    # peewee logs each query with its parameters at DEBUG: mail bodies, password hashes. Never in our logs.
    logging.getLogger("peewee").setLevel(max(logging.INFO, logging.getLevelName(level)))
