"""Step 3, authenticate: is the mail really from the domain its From header names? Pure but for DNS.

Evidence comes from the desk's own receiving server (its Authentication-Results, RFC 8601, recognised by
its authserv-id and by sitting above the first Received header from outside), or, where no server in front
of the desk authenticates mail, from verifying DKIM here. Everything else in the headers was written by the
sender and is recorded as ignored.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[127.0.0.1]", "[::1]"})
MAX_RESULT_HEADERS = 20  # more than this many is itself a sign of tampering; the rest are not read
MAX_DKIM_SIGNATURES = 5
# Headers RFC 5322 allows once; a second copy is how a genuine signature is made to carry other words.
SINGLE_HEADERS = frozenset({"subject", "to", "cc", "date", "message-id", "in-reply-to", "references", "sender",
                            "reply-to", "content-type", "mime-version", "content-transfer-encoding"})


@dataclass(frozen=True)
class AuthSettings:
    """Which server's results count, whose ARC seals we accept, and how to look up DKIM keys."""

    authserv_ids: tuple[str, ...] = ()  # MAIL_AUTHSERV_ID
    receiving_hosts: tuple[str, ...] = ()  # MAIL_RECEIVING_HOSTS: the desk's own relays
    arc_trusted_sealers: tuple[str, ...] = ()  # ARC_TRUSTED_SEALERS
    verify_dkim: bool = True  # verify DKIM here when our server recorded nothing
    dns: str = ""  # MAIL_DNS: "" system resolver | "1.1.1.1[:53]" | "file:records.json" (offline)


@dataclass
class Verdict:
    verdict: str  # pass | fail | none | refused
    domain: str = ""  # the From domain the verdict is about
    why: str = ""
    method: str = ""  # dmarc | dkim | arc | dkim-here | arc-here
    ignored: list[str] = field(default_factory=list)

    @property
    def authenticated(self) -> bool:
        return self.verdict == "pass"

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, "domain": self.domain, "why": self.why, "method": self.method,
                "ignored": self.ignored[:10]}

    @classmethod
    def from_dict(cls, data: dict | None) -> "Verdict | None":
        if not data or "verdict" not in data:
            return None
        return cls(data["verdict"], data.get("domain", ""), data.get("why", ""), data.get("method", ""),
                   list(data.get("ignored") or []))


@dataclass(frozen=True)
class Result:
    method: str
    result: str
    props: dict


MAX_RESULT_CHARS = 8192  # a longer Authentication-Results header is not one a receiving server wrote


def _split(value: str) -> list[str]:
    """One pass over an Authentication-Results value: comments dropped, split on ';' outside quoted
    strings (RFC 5322 quoted strings, backslash escapes honoured). Linear in the header's length."""
    pieces, out, depth, quoted, escape = [], [], 0, False, False
    for ch in value:
        if escape:
            escape = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\" and (quoted or depth):
            escape = True
            if depth == 0:
                out.append(ch)
            continue
        if quoted:
            if ch == '"':
                quoted = False
            out.append(ch)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth:
            continue
        elif ch == '"':
            quoted = True
            out.append(ch)
        elif ch == ";":
            pieces.append("".join(out))
            out = []
        else:
            out.append(ch)
    pieces.append("".join(out))
    return [" ".join(p.split()) for p in pieces]


def authserv_of(value: str) -> str | None:
    """Just the authserv-id, cheaply (to place a header before reading it)."""
    head = _split((value or "")[:512])[0].split()
    if not head or not re.fullmatch(r"[A-Za-z0-9._:\[\]-]+", head[0]):
        return None
    return head[0].lower().rstrip(".")


def parse_results(value: str) -> tuple[str | None, list[Result]]:
    """An Authentication-Results value -> (authserv-id, results); (None, []) when unreadable."""
    if not value or len(value) > MAX_RESULT_CHARS:
        return None, []
    pieces = _split(value)
    head = pieces[0].split()
    if not head or not re.fullmatch(r"[A-Za-z0-9._:\[\]-]+", head[0]):
        return None, []
    results = []
    for piece in pieces[1:]:
        found = re.match(r"([A-Za-z0-9_.-]+)(?:/\d+)?\s*=\s*([A-Za-z0-9_-]+)(.*)$", piece)
        if not found:
            continue  # "none" or garbage: no result
        props = {}
        for key, val in re.findall(r'([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s"]+)',
                                   found.group(3)):
            props.setdefault(key.lower(), val.strip('"').lower())
        results.append(Result(found.group(1).lower(), found.group(2).lower(), props))
    return head[0].lower().rstrip("."), results


def _received(value: str) -> tuple[str, str]:
    """The host a Received header was written by, and the peer address it recorded ("" when none).

    The from-clause's first name is the sender's HELO (anything it likes); the address in brackets and the
    by-clause are what the receiving host itself wrote."""
    text = " ".join((value or "").split())
    by = re.search(r"\bby\s+([^\s;()]+)", text, re.IGNORECASE)
    found = re.match(r"from\s+\S+(?:\s+\(([^)]*)\))?", text, re.IGNORECASE)
    ip = re.search(r"\[([0-9a-fA-F:.]+)\]", found.group(1) or "") if found else None
    return (by.group(1).lower().strip("[].") if by else ""), (ip.group(1) if ip else "")


def trusted_results(headers: list[tuple[str, str]], settings: AuthSettings) -> tuple[list[Result], list[str]]:
    """The results our own server added (topmost, above its Received of the outside hop), and what was ignored.

    Reading down from the top: a Received written by one of our relays (MAIL_RECEIVING_HOSTS), or by our
    server for a local hop (loopback peer, a content filter re-injecting), keeps the top trusted; the first
    Received written by our server for a peer outside ends it; anything else ends it too."""
    ids = {i.lower() for i in settings.authserv_ids}
    relays = {h.lower() for h in settings.receiving_hosts}
    counted: list[Result] = []
    ignored: list[str] = []
    inside, seen = True, 0
    for name, value in headers:
        lname = name.lower()
        if lname == "received":
            if inside:
                by, ip = _received(value)
                if by in relays:
                    continue
                if by in ids and ip in LOCAL_HOSTS | {"127.0.0.1", "::1"}:
                    continue
                inside = False  # our server's record of the outside hop, or a host we do not know
            continue
        if lname != "authentication-results":
            continue
        seen += 1
        if seen > MAX_RESULT_HEADERS:
            ignored.append(f"more than {MAX_RESULT_HEADERS} Authentication-Results headers: the rest not read")
            break
        authserv = authserv_of(value)
        if authserv is None:
            ignored.append("an unreadable Authentication-Results header")
        elif authserv not in ids:
            ignored.append(f"results from {authserv}, which is not our receiving server")
        elif not inside:
            ignored.append(f"results claiming {authserv} below the first Received from outside (written by the "
                           f"sender, not by our server)")
        else:
            _id, results = parse_results(value)
            if not results and len(value) > MAX_RESULT_CHARS:
                ignored.append(f"results from {authserv} longer than {MAX_RESULT_CHARS} characters: not read")
            counted.extend(results)
    return counted, ignored


@lru_cache(maxsize=1)
def _psl():
    from publicsuffixlist import PublicSuffixList  # the list ships with the package: never fetched
    return PublicSuffixList()


def organisational(domain: str) -> str:
    """The registrable domain (relaxed DMARC alignment): mail.sce.com -> sce.com."""
    domain = (domain or "").lower().strip(".")
    return _psl().privatesuffix(domain) or domain


def aligned(signer: str, from_domain: str) -> bool:
    signer = (signer or "").lower().strip(".")
    return bool(signer) and organisational(signer) == organisational(from_domain)


def _signer(r: Result) -> str:
    return r.props.get("header.d") or r.props.get("header.i", "").rpartition("@")[2]


def _from_results(results: list[Result], from_domain: str, how: str) -> Verdict | None:
    """The verdict a set of results gives for the From domain, or None when they say nothing about it."""
    # A DMARC result names the From domain it was evaluated for; one that names none proves nothing.
    dmarc = [r for r in results if r.method == "dmarc" and r.props.get("header.from") == from_domain]
    passes = [r for r in dmarc if r.result == "pass"]
    fails = [r for r in dmarc if r.result != "pass"]
    if passes and fails:
        return Verdict("refused", from_domain, f"{how} results disagree about DMARC for {from_domain}", how)
    if passes:
        return Verdict("pass", from_domain, f"DMARC pass for {from_domain} ({how})", how)
    if fails:
        result = fails[0].result
        return Verdict("fail" if result == "fail" else "none", from_domain,
                       f"DMARC {result} for {from_domain} ({how})", how)
    dkim = [r for r in results if r.method == "dkim"]
    good = [r for r in dkim if r.result == "pass" and aligned(_signer(r), from_domain)]
    if good:
        return Verdict("pass", from_domain, f"DKIM pass for {_signer(good[0])}, aligned with {from_domain} "
                                            f"({how}; no DMARC result recorded)", "dkim" if how == "dmarc" else how)
    if any(r.result == "pass" for r in dkim):
        return Verdict("none", from_domain, f"DKIM pass only for {_signer(dkim[0])}, not aligned with "
                                            f"{from_domain} ({how})", how)
    if dkim:
        return Verdict("fail", from_domain, f"DKIM {dkim[0].result} ({how})", how)
    return None


def dns_lookup(spec: str) -> Callable:
    """A TXT lookup for DKIM keys: the system resolver, a named one, or a JSON file of records (offline)."""
    import dkim.dnsplug
    if spec.startswith("file:"):
        records = json.loads(Path(spec[5:]).read_text())

        def from_file(name, timeout=5):
            key = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
            value = records.get(key)
            return value.encode() if isinstance(value, str) else None
        return from_file
    if spec:
        import dns.resolver
        host, _, port = spec.partition(":") if spec.count(":") == 1 else (spec, "", "")
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        if port:
            resolver.port = int(port)

        def from_server(name, timeout=5):
            name = name.decode() if isinstance(name, bytes) else name
            try:
                answer = resolver.resolve(name, "TXT", lifetime=timeout, raise_on_no_answer=False)
            except Exception:  # NXDOMAIN, timeouts: no key, so no pass
                return None
            for rrset in answer.response.answer:
                for item in rrset:
                    return b"".join(item.strings)
            return None
        return from_server
    return dkim.dnsplug.get_txt


def _verify_dkim_here(raw: bytes, from_domain: str, settings: AuthSettings) -> Verdict:
    import dkim
    lookup = dns_lookup(settings.dns)
    signer = dkim.DKIM(raw, logger=log, minkey=1024)
    seen = []
    count = len(re.findall(rb"(?im)^dkim-signature:", raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]))
    for idx in range(min(count, MAX_DKIM_SIGNATURES)):
        try:
            ok = signer.verify(idx=idx, dnsfunc=lookup)
        except Exception as exc:  # a broken signature or key is simply no pass
            seen.append(f"signature {idx + 1}: {type(exc).__name__}")
            continue
        domain = (signer.domain or b"").decode("ascii", "replace").lower()
        if ok and aligned(domain, from_domain):
            return Verdict("pass", from_domain, f"DKIM verified here for {domain}, aligned with {from_domain}",
                           "dkim-here")
        seen.append(f"{domain or 'unknown'}: {'pass, not aligned' if ok else 'fail'}")
    if not count:
        return Verdict("none", from_domain, "no DKIM signature, and no results from our receiving server",
                       "dkim-here")
    return Verdict("fail" if not any("pass" in s for s in seen) else "none", from_domain,
                   "DKIM verified here: " + "; ".join(seen), "dkim-here")


def _arc(headers: list[tuple[str, str]], from_domain: str, settings: AuthSettings, chain_valid: bool,
         how: str) -> Verdict | None:
    """What a trusted ARC sealer recorded before forwarding (a mailing list, a forwarding service)."""
    if not settings.arc_trusted_sealers or not chain_valid:
        return None
    seals = []
    from dkim.util import parse_tag_value
    for name, value in headers:
        if name.lower() == "arc-seal":
            try:  # the DKIM tag-list grammar: "zz=1 d=forwarder.example" is one tag zz, not a second d
                tags = {k.decode(): v.decode("ascii", "replace").strip()
                        for k, v in parse_tag_value(" ".join(value.split()).encode("utf-8", "replace")).items()}
            except Exception:
                return Verdict("none", from_domain, "an ARC-Seal that cannot be read", how)
            if tags.get("i", "").isdigit():
                seals.append((int(tags["i"]), tags.get("d", "").lower()))
    if not seals:
        return None
    instance, sealer = max(seals)
    trusted = {s.lower() for s in settings.arc_trusted_sealers}
    if sealer not in trusted and organisational(sealer) not in trusted:
        return Verdict("none", from_domain, f"ARC sealed by {sealer}, which is not in ARC_TRUSTED_SEALERS", how)
    for name, value in headers:
        if name.lower() == "arc-authentication-results":
            found = re.match(r"\s*i\s*=\s*(\d+)\s*;(.*)$", " ".join(value.split()))
            if found and int(found.group(1)) == instance:
                _id, results = parse_results(found.group(2))
                verdict = _from_results(results, from_domain, how)
                if verdict is not None:
                    verdict.why += f", as recorded by trusted sealer {sealer}"
                    return verdict
    return None


def authenticate(headers: list[tuple[str, str]], raw: bytes, settings: AuthSettings) -> Verdict:
    """The sender-authentication verdict for a mail (never raises)."""
    try:
        return _authenticate(headers, raw, settings)
    except Exception as exc:  # a header shape nobody foresaw: no evidence, with the reason
        log.exception("authentication check failed")
        return Verdict("none", "", f"authentication could not be checked: {type(exc).__name__}")


def _authenticate(headers: list[tuple[str, str]], raw: bytes, settings: AuthSettings) -> Verdict:
    from email.utils import getaddresses
    froms = [v for n, v in headers if n.lower() == "from"]
    if len(froms) != 1:
        return Verdict("refused", "", f"{len(froms)} From headers: a mail must name exactly one author")
    addresses = [a for _n, a in getaddresses(froms) if "@" in a]
    if len(addresses) != 1:
        return Verdict("refused", "", "the From header must name exactly one address")
    if len(addresses[0]) > 254:
        return Verdict("refused", "", "the From address is longer than an address can be")
    from_domain = addresses[0].rpartition("@")[2].lower().strip(" >.")
    counts: dict[str, int] = {}
    for name, _value in headers:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    twice = sorted(h for h in SINGLE_HEADERS if counts.get(h, 0) > 1)
    if twice:
        # DKIM signs the last copy, mail readers show the first: a second Subject rides on a genuine signature.
        return Verdict("refused", from_domain, f"more than one {', '.join(twice)} header: a mail has each once")
    for name, value in headers:
        if name.lower() == "dkim-signature" and re.search(r"(^|;)\s*l\s*=", " ".join(value.split())):
            return Verdict("refused", from_domain, "a DKIM signature covers only part of the body (l=): "
                                                   "anything could follow it")
    results, ignored = trusted_results(headers, settings)
    if results:
        verdict = _from_results(results, from_domain, "our server")
        if verdict is None or not verdict.authenticated:
            arc_pass = any(r.method == "arc" and r.result == "pass" for r in results)
            arc = _arc(headers, from_domain, settings, arc_pass, "arc")
            if arc is not None and (arc.authenticated or verdict is None):
                verdict = arc
        verdict = verdict or Verdict("none", from_domain, "our server recorded no DMARC or DKIM result for "
                                                          f"{from_domain}", "dmarc")
    elif settings.verify_dkim and raw:
        verdict = _verify_dkim_here(raw, from_domain, settings)
        if not verdict.authenticated and settings.arc_trusted_sealers and any(
                n.lower() == "arc-seal" for n, _v in headers):
            import dkim
            try:
                cv, _results, _reason = dkim.arc_verify(raw, dnsfunc=dns_lookup(settings.dns))
            except Exception:
                cv = dkim.CV_Fail
            arc = _arc(headers, from_domain, settings, cv == dkim.CV_Pass, "arc-here")
            verdict = arc if arc is not None and arc.authenticated else verdict
    else:
        verdict = Verdict("none", from_domain, "no Authentication-Results from our receiving server"
                          + (f" ({', '.join(settings.authserv_ids)})" if settings.authserv_ids else ""), "")
    verdict.ignored = ignored
    return verdict
