"""The S3 backend against a real SeaweedFS: round trip, dedupe, prefix, a missing file, a store that is down."""
from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid

import pytest

from models import storage
from models.storage import MissingFile, StorageError
from models.storage_s3 import S3
from tests.storage_server import BUCKET, environment, free_port


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """boto3's own variables pointing at the test server, as a deployment sets them."""
    for name, value in environment(s3_server.endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return s3_server


@pytest.fixture
def s3_storage(database, s3_env, tmp_path):
    """storage configured for a fresh prefix of the test bucket; the run's own setting is put back after."""
    before = storage.configured()
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    storage.configure(tmp_path / "local", f"s3://{BUCKET}/{prefix}")
    yield prefix
    storage.configure(*before)


def test_put_then_get_round_trip_with_the_key_under_the_prefix(s3_storage, s3_env, tmp_path):
    data = os.urandom(300_000)
    sha, new = storage.put(data)
    assert new and sha == hashlib.sha256(data).hexdigest()
    assert storage.get(sha) == data
    assert s3_env.keys(s3_storage) == [f"{s3_storage}/blobs/{sha[:2]}/{sha[2:4]}/{sha}"]
    assert storage.location(sha) == f"s3://{BUCKET}/{s3_storage}/blobs/{sha[:2]}/{sha[2:4]}/{sha}"
    assert not any((tmp_path / "local").rglob(sha))  # nothing on this machine's disk


def test_the_same_bytes_twice_are_one_object_and_the_second_put_is_not_new(s3_storage, s3_env):
    data = b"%PDF-1.4 the same plot plan twice"
    first, second = storage.put(data), storage.put(data)
    assert first == (hashlib.sha256(data).hexdigest(), True) and second == (first[0], False)
    assert len(s3_env.keys(s3_storage)) == 1


def test_two_nodes_putting_the_same_bytes_at_once_keep_one_object(s3_storage, s3_env):
    data = os.urandom(2_000_000)
    nodes = [S3(f"s3://{BUCKET}/{s3_storage}") for _ in range(4)]
    results = [None] * len(nodes)

    def put(n):
        results[n] = nodes[n].put(hashlib.sha256(data).hexdigest(), data)
    threads = [threading.Thread(target=put, args=(n,)) for n in range(len(nodes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) <= 1 and None not in results
    assert len(s3_env.keys(s3_storage)) == 1 and storage.get(hashlib.sha256(data).hexdigest()) == data


def test_a_prefix_keeps_stores_apart_and_a_bucket_without_prefix_works(s3_env):
    run = uuid.uuid4().hex[:6]
    one, other, bare = S3(f"s3://{BUCKET}/one-{run}"), S3(f"s3://{BUCKET}/two-{run}/"), S3(f"s3://{BUCKET}")
    data = os.urandom(1000)
    sha = hashlib.sha256(data).hexdigest()
    assert one.put(sha, data) and one.get(sha) == data
    with pytest.raises(MissingFile):
        other.get(sha)
    assert other.put(sha, data)  # new there: each prefix is a store of its own
    assert bare.key(sha) == f"blobs/{sha[:2]}/{sha[2:4]}/{sha}" and other.where.endswith(other.prefix)
    assert bare.put(sha, data) and bare.get(sha) == data


def test_a_missing_file_names_its_sha_and_the_store(s3_storage):
    sha = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(MissingFile) as caught:
        storage.get(sha)
    assert str(caught.value) == f"file {sha} is missing from the store s3://{BUCKET}/{s3_storage}"
    assert isinstance(caught.value, FileNotFoundError)  # the pipeline sets mail with a lost file aside


def test_a_damaged_object_is_refused_not_handed_out(s3_storage, s3_env):
    sha, _ = storage.put(b"the real bytes")
    s3_env.client().put_object(Bucket=BUCKET, Key=f"{s3_storage}/blobs/{sha[:2]}/{sha[2:4]}/{sha}", Body=b"other")
    with pytest.raises(StorageError, match=f"file {sha} came back damaged"):
        storage.get(sha)


def test_a_store_that_is_down_fails_fast_with_a_clear_error(s3_env, monkeypatch):
    closed = free_port()  # nobody listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{closed}")
    store = S3(f"s3://{BUCKET}/down")
    started = time.monotonic()
    with pytest.raises(StorageError) as caught:
        store.put("0" * 64, b"x")
    with pytest.raises(StorageError) as on_get:
        store.get("0" * 64)
    assert time.monotonic() - started < 5
    assert str(caught.value).startswith(f"the file store s3://{BUCKET}/down cannot be reached (")
    assert f"127.0.0.1:{closed}" in str(caught.value) and "try again in a minute" in str(caught.value)
    assert not isinstance(on_get.value, MissingFile)  # an outage is not a lost file


def test_a_store_that_accepts_and_never_answers_fails_within_its_timeouts(s3_env, monkeypatch):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts connections; nothing ever replies
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{silent.getsockname()[1]}")
        store = S3(f"s3://{BUCKET}/hung", connect_timeout=0.5, read_timeout=0.5, attempts=2)
        started = time.monotonic()
        with pytest.raises(StorageError, match="cannot be reached"):
            store.get("0" * 64)
        assert time.monotonic() - started < 3  # two attempts of half a second, and a short backoff


def test_the_local_folder_reports_the_same_errors(tmp_path):
    folder = storage.LocalFolder(tmp_path / "store")
    sha = hashlib.sha256(b"gone").hexdigest()
    with pytest.raises(MissingFile, match=f"file {sha} is missing from the store {tmp_path / 'store'}"):
        folder.get(sha)
    (tmp_path / "store" / "blobs").write_bytes(b"")  # a file where the folder must go: no write can succeed
    with pytest.raises(StorageError, match=f"the file store {tmp_path / 'store'} cannot write"):
        folder.put(sha, b"gone")
    with pytest.raises(StorageError, match="cannot read") as caught:
        folder.get(sha)  # not a missing file: the folder itself is broken
    assert not isinstance(caught.value, MissingFile)


def test_paths_are_refused_when_files_live_in_an_object_store(s3_storage):
    with pytest.raises(StorageError, match="not on this machine's disk"):
        storage.path_for("0" * 64)


def test_a_forked_child_gets_a_client_of_its_own(s3_storage):
    sha, _ = storage.put(b"read in a child process")
    parent_client = storage.backend().client()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own connection pool, the same store
        try:
            ok = storage.get(sha) == b"read in a child process" and storage.backend().client() is not parent_client
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
