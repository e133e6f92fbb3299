"""The catalog browser: each utility's programs, gate, SLAs, tiers and document requirements."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request

import catalog
from models.catalog_ref import current
from models.vocab import US_STATES

bp = Blueprint("catalog", __name__, url_prefix="/catalog")

CONDITION_TEXT = {
    "kw_ac_above": "PV over {} kW AC", "kw_ac_at_least": "PV at least {} kW AC", "kw_ac_at_most": "PV up to {} kW AC",
    "kw_dc_above": "PV over {} kW DC", "kw_dc_at_most": "PV up to {} kW DC",
    "battery_kwh_above": "battery over {} kWh",
}
FLAG_TEXT = {"has_pv": "has PV", "has_battery": "has a battery", "export_limited": "export limited",
             "new_home": "new home", "third_party_owned": "third-party owned", "main_panel_upgrade": "main panel upgrade"}


def describe(when: "catalog.model.Condition") -> str:
    """A condition in words: 'PV up to 30 kW AC, has a battery'."""
    parts = []
    for name, text in CONDITION_TEXT.items():
        value = getattr(when, name)
        if value is not None:
            parts.append(text.format(f"{value:g}"))
    for name, text in FLAG_TEXT.items():
        value = getattr(when, name)
        if value is not None:
            parts.append(text if value else "not " + text)
    if when.states:
        parts.append("in " + "/".join(when.states))
    return ", ".join(parts)


@bp.get("")
def index():
    """All utilities, searchable by name, alias, code or state."""
    cat = current()
    q = request.args.get("q", "").strip().lower()[:100]
    utilities = sorted(cat.utilities.values(), key=lambda u: u.name)
    if len(q) == 2 and q.upper() in US_STATES:
        utilities = [u for u in utilities if q.upper() in u.states]  # "ca" means California, not Carolinas
    elif q:
        utilities = [u for u in utilities if q in " ".join((u.code, u.name, *u.aliases, *u.states)).lower()]
    return render_template("catalog/index.html", utilities=utilities, q=q, gates=catalog.GATES,
                           permit_sets=list(cat.permit_sets.values()))


@bp.get("/<code>")
def show(code: str):
    """One utility, readable by a new coordinator."""
    cat = current()
    utility = cat.utilities.get(code.upper())
    if utility is None:
        abort(404, f"no utility {code!r} in the catalog")
    rules = {a: [r for r in utility.rules if r.application == a] for a in catalog.APPLICATIONS}
    return render_template("catalog/show.html", u=utility, cat=cat, rules=rules, gates=catalog.GATES,
                           describe=describe)


@bp.get("/permits/<code>")
def permit_set(code: str):
    """An AHJ permitting route (generic package or SolarAPP+)."""
    cat = current()
    ps = cat.permit_sets.get(code.upper())
    if ps is None:
        abort(404, f"no permit set {code!r} in the catalog")
    return render_template("catalog/permit_set.html", ps=ps, cat=cat, describe=describe)
