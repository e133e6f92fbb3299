"""Who a sender's domain speaks for: a project's utility, its AHJ, a permit portal or an incentive program.

Only the catalog decides: a listed domain or a subdomain of one, never a loose suffix or a pattern. Shared
platforms (PowerClerk, Accela, SolarAPP+...) prove only the platform; general-purpose services (DocuSign,
Dropbox...) prove nothing about who used them. Pure but for the catalog passed in.
"""
from __future__ import annotations

from dataclasses import dataclass

AUTHORITY_ORDER = ("utility", "ahj", "program")


@dataclass(frozen=True)
class Authority:
    who: str  # utility | ahj | program
    code: str  # utility code, AHJ name or sender code
    domain: str
    why: str
    platform: bool = False  # many organisations send through it: the mail must name the held reference
    general: bool = False  # anyone can send through it: suggestions only
    listed: bool = True  # the catalog lists it (a project contact's role alone is not listed)

    @property
    def label(self) -> str:
        return {"utility": "utility", "ahj": "AHJ", "program": "program administrator"}[self.who]


def covers(domain: str, listed) -> str:
    """The listed domain that covers `domain` (itself or a parent), or ""."""
    domain = (domain or "").lower().strip(".")
    for d in listed:
        if domain == d or domain.endswith("." + d):
            return d
    return ""


def _platforms(catalog, domain: str):
    return [s for s in catalog.senders.values() if s.kind == "platform" and covers(domain, s.domains)]


def general_service(catalog, domain: str):
    return next((s for s in catalog.senders.values() if s.kind == "general" and covers(domain, s.domains)), None)


def for_project(domain: str, utility_code: str, ahj_name: str | None, ahj_state: str | None, catalog,
                program_codes: tuple[str, ...] = ()) -> list[Authority]:
    """Every way the domain speaks for this project, strongest first (utility, AHJ, program)."""
    found: list[Authority] = []
    if not domain:
        return found
    platforms = {s.code: s for s in _platforms(catalog, domain)}
    utility = catalog.utilities.get(utility_code)
    if utility is not None:
        listed = covers(domain, utility.sender_domains)
        if listed:
            platform = any(s.authority == "utility" for s in platforms.values())
            found.append(Authority("utility", utility.code, domain, f"{domain} is listed for {utility.code}"
                                   + (" (a platform many utilities send through)" if platform else ""),
                                   platform=platform))
    ahj = catalog.ahj_entry(ahj_name, ahj_state)
    if ahj is not None:
        if covers(domain, ahj.domains):
            found.append(Authority("ahj", ahj.name, domain, f"{domain} is listed for {ahj.name}, {ahj.state}"))
        for code in ahj.portals:
            sender = catalog.senders.get(code)
            if sender is not None and covers(domain, sender.domains):
                found.append(Authority("ahj", ahj.name, domain, f"{domain} is {sender.name}, {ahj.name}'s permit "
                                       f"portal (a platform many AHJs send through)", platform=True))
    offered = set(program_codes) | set(utility.program_codes if utility else ())
    for sender in catalog.senders.values():
        if sender.authority != "program" or not covers(domain, sender.domains):
            continue
        # An administrator for named utilities (PG&E runs SGIP in its own territory) counts only there.
        if (not sender.programs or set(sender.programs) & offered) and \
                (not sender.utilities or utility_code in sender.utilities) and (sender.programs or sender.utilities):
            found.append(Authority("program", sender.code, domain, f"{domain} is {sender.name}, which administers "
                                   f"{', '.join(sorted(set(sender.programs) & offered)) or utility_code} here",
                                   platform=sender.kind == "platform"))
    general = general_service(catalog, domain)
    if general is not None and not found:
        found.append(Authority("utility", general.code, domain, f"{domain} is {general.name}, a general-purpose "
                               "service anyone can send through", general=True))
    return found


def anywhere(domain: str, catalog) -> list[Authority]:
    """For mail matched to no project: every utility, AHJ, platform or administrator the domain is listed for."""
    found: list[Authority] = []
    if not domain:
        return found
    for utility in catalog.utilities.values():
        if covers(domain, utility.sender_domains):
            found.append(Authority("utility", utility.code, domain, f"{domain} is listed for {utility.code}"))
    for ahj in catalog.ahjs.values():
        if covers(domain, ahj.domains):
            found.append(Authority("ahj", ahj.name, domain, f"{domain} is listed for {ahj.name}, {ahj.state}"))
    for sender in catalog.senders.values():
        if sender.authority and covers(domain, sender.domains):
            found.append(Authority(sender.authority, sender.code, domain, f"{domain} is {sender.name}",
                                   platform=sender.kind == "platform"))
    return found
