"""Two nodes, no shared disk, one object store: any node serves any file; a store that is down loses nothing."""
from __future__ import annotations

import hashlib
import io
import select
import socket
import socketserver
import threading
import time
import uuid

import pytest

from app import create_app
from inbox.imap import ImapWatcher, parse_url
from inbox.store import store
from models import Document, storage
from models.inbound import InboundMail, Mailbox
from tests import files
from tests.conftest import login, overrides
from tests.factories import make_project
from tests.inbox.dovecot import Dovecot, binary as dovecot_binary
from tests.storage_server import BUCKET, environment, free_port

HX = {"HX-Request": "true"}


class Switch:
    """A port in front of the store that can be cut and restored: an outage, with the same URL throughout."""

    def __init__(self, target: int):
        self.port, self.target = free_port(), target
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.server: socketserver.ThreadingTCPServer | None = None
        self.open: set[socket.socket] = set()

    def up(self) -> None:
        switch = self

        class Pipe(socketserver.BaseRequestHandler):
            def handle(self):
                upstream = socket.create_connection(("127.0.0.1", switch.target))
                ends = {self.request: upstream, upstream: self.request}
                switch.open.update(ends)
                try:
                    while True:
                        for end in select.select(list(ends), [], [], 1)[0]:
                            chunk = end.recv(65536)
                            if not chunk:
                                return
                            ends[end].sendall(chunk)
                except OSError:
                    return
                finally:
                    switch.open.difference_update(ends)
                    upstream.close()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Pipe)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and cut the open ones (a client's pooled keep-alive ones too)."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.server = None
        for end in list(self.open):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    for name, value in environment(s3_server.endpoint).items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def url(s3_env):
    """A fresh prefix of the test bucket; the run's own storage setting is put back afterwards."""
    before = storage.configured()
    yield f"s3://{BUCKET}/nodes-{uuid.uuid4().hex[:8]}"
    storage.configure(*before)


@pytest.fixture
def outage(s3_env, monkeypatch):
    """The store behind a switch (starts up); the endpoint variable names the switch."""
    switch = Switch(int(s3_env.endpoint.rsplit(":", 1)[1]))
    switch.up()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", switch.endpoint)
    yield switch
    switch.down()


def node(db, storage_dir, storage_url):
    """One web node: its own app and its own local folder."""
    storage_dir.mkdir(parents=True, exist_ok=True)
    return create_app(overrides(storage_dir=storage_dir, storage_url=storage_url)).test_client()


def post_files(client, project, *named, headers=HX):
    data = {"files": [(io.BytesIO(content), name) for name, content in named]}
    return client.post(f"/projects/{project.id}/documents", data=data, content_type="multipart/form-data",
                       headers=headers)


def test_a_document_uploaded_on_one_node_downloads_from_another(db, users, url, tmp_path):
    pdf = files.pdf("Signed interconnection agreement, uploaded on node A")
    a = login(node(db, tmp_path / "a", url), users["maria"])
    p = make_project(coordinator=users["maria"])
    assert post_files(a, p, ("agreement.pdf", pdf)).status_code == 200
    doc = Document.get()

    b = login(node(db, tmp_path / "b", url), users["james"])  # another machine: an empty folder of its own
    resp = b.get(f"/documents/{doc.id}/file")
    assert resp.status_code == 200 and resp.data == pdf
    assert [p for p in (tmp_path / "a").rglob("*") if p.is_file()] == []  # neither node kept it on disk
    assert [p for p in (tmp_path / "b").rglob("*") if p.is_file()] == []


def test_without_the_object_store_the_other_node_says_the_file_is_missing(db, users, url, tmp_path):
    # The same two nodes on local folders: what STORAGE_URL is for, and what a user sees without it.
    a = login(node(db, tmp_path / "a", ""), users["maria"])
    p = make_project(coordinator=users["maria"])
    assert post_files(a, p, ("bill.pdf", files.pdf("bill"))).status_code == 200
    doc = Document.get()
    b = login(node(db, tmp_path / "b", ""), users["james"])
    resp = b.get(f"/documents/{doc.id}/file")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 500 and "File missing" in page
    assert f"file {doc.sha256} is missing from the store {tmp_path / 'b'}" in page


def test_an_upload_while_the_store_is_down_answers_503_and_keeps_nothing(db, users, url, tmp_path, outage):
    client = login(node(db, tmp_path / "a", url), users["maria"])
    p = make_project(coordinator=users["maria"])
    outage.down()
    started = time.monotonic()
    for headers in (HX, {}):  # the drop zone's request, and the plain form without JavaScript
        resp = post_files(client, p, ("plan.pdf", files.pdf("plot plan")), headers=headers)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "60"
        # The drop zone shows the text of the page's .error element next to the file.
        assert f'<p class="error">the file store {url} cannot be reached' in page
        assert "the form still holds what you typed" in page
    assert time.monotonic() - started < 5
    assert Document.select().count() == 0

    outage.up()  # back: sending the file again works, on the same URL
    plan = files.pdf("plot plan")
    assert post_files(client, p, ("plan.pdf", plan)).status_code == 200
    assert Document.get().data() == plan


def test_a_download_while_the_store_is_down_says_so(db, users, url, tmp_path, outage):
    client = login(node(db, tmp_path / "a", url), users["maria"])
    p = make_project(coordinator=users["maria"])
    bill = files.pdf("bill")
    post_files(client, p, ("bill.pdf", bill))
    outage.down()
    resp = client.get(f"/documents/{Document.get().id}/file")
    assert resp.status_code == 503 and "File store unavailable" in resp.get_data(as_text=True)
    outage.up()
    assert client.get(f"/documents/{Document.get().id}/file").data == bill


MAIL = (b"From: Desk <desk@utility.example>\nTo: intake@ixdesk.example\nSubject: Application update\n"
        b"Message-ID: <store-%d@utility.example>\nDate: Sat, 28 Nov 2026 10:00:00 +0000\n\nUpdate %d.\n")


def test_a_stored_mail_lands_in_the_object_store_and_any_node_reads_it(db, url, tmp_path, s3_env):
    storage.configure(tmp_path / "a", url)
    raw = MAIL % (1, 1)
    mail = store(raw, source="upload", mailbox="upload").mail
    sha = hashlib.sha256(raw).hexdigest()
    prefix = url.split("/", 3)[3]
    assert mail.sha256 == sha and s3_env.keys(prefix) == [f"{prefix}/blobs/{sha[:2]}/{sha[2:4]}/{sha}"]
    storage.configure(tmp_path / "b", url)
    assert InboundMail.get_by_id(mail.id).raw() == raw


def test_a_mail_upload_while_the_store_is_down_answers_503_and_keeps_nothing(db, users, url, tmp_path, outage):
    client = login(node(db, tmp_path / "a", url), users["maria"])
    outage.down()
    resp = client.post("/inbox/upload", data={"files": [(io.BytesIO(MAIL % (2, 2)), "update.eml")]},
                       content_type="multipart/form-data")
    assert resp.status_code == 503 and "cannot be reached" in resp.get_data(as_text=True)
    assert InboundMail.select().count() == 0


@pytest.fixture
def imap_server():
    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed: apt-get install dovecot-imapd")
    server = Dovecot()
    yield server.start()
    server.close()


def test_mail_stays_on_the_imap_server_while_the_store_is_down(db, url, tmp_path, outage, imap_server, s3_env):
    storage.configure(tmp_path / "a", url)
    outage.down()
    sent = [MAIL % (n, n) for n in (3, 4)]
    imap_server.append_all(sent)
    seen = []
    watcher = ImapWatcher(parse_url(imap_server.url), lambda m: seen.append(m.id), "test", threading.Event())
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        key = watcher.settings.key
        _wait(lambda: "file store" in Mailbox.named(key).last_error, "the watcher to note the outage")
        assert InboundMail.select().count() == 0 and len(imap_server.messages("INBOX")) == 2

        outage.up()  # the watcher's next try (backoff) stores them, then moves them
        _wait(lambda: InboundMail.select().count() == 2 and not imap_server.messages("INBOX"), "the mail stored")
    finally:
        watcher.stop.set()
        thread.join(15)
        watcher.disconnect()
    stored = list(InboundMail.select().order_by(InboundMail.id))
    assert [m.raw().replace(b"\r\n", b"\n") for m in stored] == sent and seen == [m.id for m in stored]
    prefix = url.split("/", 3)[3]
    assert sorted(k.rsplit("/", 1)[1] for k in s3_env.keys(prefix)) == sorted(m.sha256 for m in stored)


def _wait(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
