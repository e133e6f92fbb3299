"""The S3-compatible backend: files under s3://bucket/prefix/blobs/aa/bb/<sha>, shared by every node.

The endpoint and credentials come from boto3's own environment variables (AWS_ENDPOINT_URL_S3 or
AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION), so the URL holds no secret.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from urllib.parse import urlparse

from models.storage import MissingFile, StorageError

log = logging.getLogger(__name__)

# A store that is down must fail a request in seconds, not hang a web worker: connection refused is
# immediate; a silent network is given CONNECT_TIMEOUT per attempt, a stalled reply READ_TIMEOUT.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 10.0
ATTEMPTS = 2  # in all, the first included
EXISTS = ("PreconditionFailed", "412")
MISSING = ("NoSuchKey", "404", "NotFound")


class S3:
    def __init__(self, url: str, *, connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT,
                 attempts: int = ATTEMPTS):
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"expected s3://bucket/prefix, got {url!r}")
        self.bucket, self.prefix = parsed.netloc, parsed.path.strip("/")
        self.where = f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self._timeouts = (connect_timeout, read_timeout, attempts)
        self._conditional = True  # put with If-None-Match; stores that lack it get HEAD-then-PUT
        self._client, self._pid = None, 0
        self._lock = threading.Lock()

    def key(self, sha256: str) -> str:
        return "/".join(filter(None, (self.prefix, "blobs", sha256[:2], sha256[2:4], sha256)))

    def location(self, sha256: str) -> str:
        return f"s3://{self.bucket}/{self.key(sha256)}"

    def client(self):
        # One client per process: a client's connection pool must not be shared across a fork.
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    import boto3
                    from botocore.config import Config
                    connect_timeout, read_timeout, attempts = self._timeouts
                    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                                    retries={"mode": "standard", "total_max_attempts": attempts},
                                    # Checksums only where S3 demands them: many S3-compatible stores
                                    # refuse the newer default trailers. get() checks the sha256 itself.
                                    request_checksum_calculation="when_required",
                                    response_checksum_validation="when_required")
                    self._client, self._pid = boto3.session.Session().client("s3", config=config), os.getpid()
        return self._client

    def put(self, sha256: str, data: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError
        key = self.key(sha256)
        try:
            if not self._conditional:
                if self._exists(key):
                    return False
                self.client().put_object(Bucket=self.bucket, Key=key, Body=data)
                return True
            self.client().put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
            return True
        except ClientError as exc:
            code = _code(exc)
            if code in EXISTS:
                return False  # the same bytes are there already: that is the point of the name
            if code == "ConditionalRequestConflict" and self._exists(key):
                return False  # another node was writing these very bytes at the same moment
            if code == "NotImplemented" and self._conditional:
                log.warning("%s does not support conditional writes; checking before each write", self.where)
                self._conditional = False
                return self.put(sha256, data)
            raise StorageError(f"the file store {self.where} refused to keep a file ({code}: "
                               f"{_message(exc)}); tell an admin") from exc
        except BotoCoreError as exc:
            raise _unreachable(self.where, exc) from exc

    def get(self, sha256: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            data = self.client().get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"].read()
        except ClientError as exc:
            if _code(exc) in MISSING:
                raise MissingFile(sha256, self.where) from None
            raise StorageError(f"the file store {self.where} refused to hand back file {sha256} "
                               f"({_code(exc)}: {_message(exc)}); tell an admin") from exc
        except BotoCoreError as exc:
            raise _unreachable(self.where, exc) from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(f"file {sha256} came back damaged from the store {self.where} "
                               f"({len(data)} bytes that do not match its name); try again or tell an admin")
        return data

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            self.client().head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if _code(exc) in MISSING:
                return False
            raise StorageError(f"the file store {self.where} refused a lookup ({_code(exc)}: "
                               f"{_message(exc)}); tell an admin") from exc
        except BotoCoreError as exc:
            raise _unreachable(self.where, exc) from exc


def _code(exc) -> str:
    return str(exc.response.get("Error", {}).get("Code") or exc.response.get("ResponseMetadata", {})
               .get("HTTPStatusCode", ""))


def _message(exc) -> str:
    return str(exc.response.get("Error", {}).get("Message") or exc)[:200]


def _unreachable(where: str, exc: Exception) -> StorageError:
    # Connection refused, timeouts, DNS, missing credentials: the store is not usable right now.
    return StorageError(f"the file store {where} cannot be reached ({exc}); try again in a minute, "
                        f"or tell an admin if it lasts")
