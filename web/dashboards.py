"""The leads' dashboard: funnel, aging, turnaround against the SLA, breaches, coordinators; drill-down; CSV."""
from __future__ import annotations

import io

from flask import Blueprint, Response, abort, request, url_for

from models import User, Utility, csv_safe, metrics
from models.base import today as desk_today
from models.vocab import is_id
from web import htmx
from web.auth import lead_required
from web.svg_charts import Bar, hbar

bp = Blueprint("dashboards", __name__)
PER_PAGE = 50


def _filter():
    return metrics.DashboardFilter.from_args(request.args, desk_today())


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def _charts(dash: metrics.Dashboard) -> dict:
    """The page's SVG charts, each drawn from the numbers its table shows."""
    road = [s for s in dash.funnel.stages if s.count or s.reached is not None]
    return {
        "funnel": hbar("chart-funnel", "Projects signed in the period, by stage now",
                       [Bar(s.label, s.count) for s in road]),
        "aging": _aging_charts(dash.aging),
        "turnaround": hbar("chart-turnaround", "Median business days from Part 1 submitted to approved, per utility",
                           [_part1_bar(r) for r in dash.turnaround],
                           target_name="dashed line: the catalog's Part 1 SLA"),
        "breaches": hbar("chart-breaches", "SLA breaches open now, per utility",
                         [Bar(r.label, r.count, f"{r.count} (longest {r.worst} BD late)")
                          for r in dash.breaches.by_utility]),
    }


def _aging_charts(aging: metrics.Aging) -> list[tuple[str, str]]:
    """One small chart per side of the ball, on one scale so their bars compare."""
    largest = max([max(r.counts) for r in aging.rows] + [1])
    out = []
    for r in aging.rows:
        side = metrics.WITH[r.ball]
        bars = [Bar(f"{label} BD", n) for (_, label, _), n in zip(metrics.BUCKETS, r.counts)]
        out.append((side, hbar(f"chart-aging-{r.ball}", f"Open projects with the ball with {side}, "
                               "by business days waiting", bars, scale_max=largest, width=300, label_width=76,
                               value_space=40)))
    return out


def _part1_bar(r: metrics.TurnaroundRow) -> Bar:
    sla = r.part1.sla
    text = f"{r.part1.median} BD (n={r.part1.n})" if r.part1.n else "no approvals"
    return Bar(r.name, r.part1.median, text + (f" · SLA {sla.short}" if sla else ""),
               sla.business_days if sla else None)


def _choices() -> dict:
    return {"utilities": list(Utility.select().order_by(Utility.name)), "coordinators": list(User.assignable()),
            "presets": metrics.PRESETS, "buckets": metrics.BUCKETS}


def _drill_url(f: metrics.DashboardFilter):
    def url(metric: str, key, **extra) -> str:
        return url_for("dashboards.drill", metric=metric, key=key, **f.args(), **extra)
    return url


@bp.get("/dashboard")
@lead_required
def index():
    """Funnel, aging, turnaround per utility, SLA breaches and coordinators' load for a period."""
    f, errors = _filter()
    form = {k: request.args.get(k, "") for k in ("from", "to", "utility", "coordinator", "preset")}
    context = {"f": f, "errors": errors, "form": form, "today": desk_today(), **_choices()}
    if errors:
        return htmx.render("dashboards/index.html", "dashboards/_body.html", status=422, dash=None, **context)
    form.update({"from": f.start.isoformat(), "to": f.end.isoformat(), "utility": f.utility,
                 "coordinator": f.coordinator})
    dash = metrics.compute(f, context["today"])
    return htmx.render("dashboards/index.html", "dashboards/_body.html", dash=dash, charts=_charts(dash),
                       drill_url=_drill_url(f), pct=_pct, **context)


def _valid_filter() -> metrics.DashboardFilter:
    f, errors = _filter()
    if errors:
        abort(422, " ".join(errors.values()))
    return f


@bp.get("/dashboard/drill")
@lead_required
def drill():
    """The projects behind one number of the dashboard, sortable and paged."""
    f = _valid_filter()
    metric, key = request.args.get("metric", ""), request.args.get("key", "")
    try:
        found = metrics.drill(metric, key, f)
    except KeyError:
        abort(404, "The dashboard has no such number; go back to the dashboard and pick one there.")
    sort = request.args.get("sort", "value")
    sort = sort if sort in metrics.DRILL_SORTS else "value"
    if sort == "value" and not found.value_label:
        sort = "external_id"
    direction = "asc" if request.args.get("dir", "desc" if sort == "value" else "asc") == "asc" else "desc"
    page_no = request.args.get("page", "1")
    page = metrics.drill_page(found.items, sort, direction, int(page_no) if is_id(page_no) else 1, PER_PAGE)
    args = {**f.args(), "metric": metric, "key": key}
    return htmx.render("dashboards/drill.html", "dashboards/_drill_rows.html", f=f, found=found, page=page,
                       sort=sort, direction=direction, args=args)


def _csv(name: str, f: metrics.DashboardFilter, header: list[str], rows) -> Response:
    buf = io.StringIO()
    writer = csv_safe.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    resp = Response(buf.getvalue(), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="ixdesk-{name}-{f.start}-to-{f.end}.csv"'
    return resp


def _span(span: metrics.Span, with_sla: bool = True) -> list:
    cells = [span.n, span.median, span.p90]
    if with_sla:
        cells.append(span.sla.business_days if span.sla else None)
    return cells


TABLES = {
    "funnel": (["stage", "label", "projects_now", "reached_this_stage_or_later", "reached_share_pct"],
               lambda f, today: [[s.stage, s.label, s.count, s.reached,
                                  None if s.share is None else round(s.share * 100, 1)]
                                 for s in metrics.funnel(f).stages]),
    "aging": (["ball_in_court", "label"] + [f"bd_{key}" for key, _, _ in metrics.BUCKETS] + ["total"],
              lambda f, today: [[r.ball, r.label, *r.counts, r.total] for r in metrics.aging(f, today).rows]),
    "turnaround": (["utility", "name", "part1_n", "part1_median_bd", "part1_p90_bd", "part1_sla_bd",
                    "approved_to_pto_n", "approved_to_pto_median_bd", "approved_to_pto_p90_bd",
                    "part2_n", "part2_median_bd", "part2_p90_bd", "part2_sla_bd",
                    "part1_submitted", "part1_deficient", "deficiency_rate_pct"],
                   lambda f, today: [[r.code, r.name, *_span(r.part1), *_span(r.approved_to_pto, False),
                                      *_span(r.part2), len(r.submitted), len(r.deficient),
                                      None if r.deficiency_rate is None else round(r.deficiency_rate * 100, 1)]
                                     for r in metrics.turnaround(f)]),
    "breaches-utility": (["utility", "name", "open_breaches", "longest_late_bd"],
                         lambda f, today: [[r.key, r.label, r.count, r.worst]
                                           for r in metrics.breaches(f, today).by_utility]),
    "breaches-coordinator": (["coordinator_id", "coordinator", "open_breaches", "longest_late_bd"],
                             lambda f, today: [[r.key, r.label, r.count, r.worst]
                                               for r in metrics.breaches(f, today).by_coordinator]),
    "coordinators": (["coordinator_id", "coordinator", "open_projects", "open_applications", "due_today",
                      "overdue", "status_moves", "ptos"],
                     lambda f, today: [[r.key, r.name, r.open_projects, r.open_applications, r.due_today,
                                        r.overdue, r.moves, r.ptos] for r in metrics.coordinators(f, today)]),
}


@bp.get("/dashboard/drill.csv")
@lead_required
def drill_csv():
    """The projects behind one number as CSV."""
    f = _valid_filter()
    try:
        found = metrics.drill(request.args.get("metric", ""), request.args.get("key", ""), f)
    except KeyError:
        abort(404, "The dashboard has no such number.")
    rows = metrics.sort_rows(metrics.drill_rows(found.items), "value", "desc")
    return _csv("projects", f, ["external_id", "customer", "utility", "stage", "ball_in_court", "coordinator",
                                found.value_label.lower().replace(" ", "_") or "value", "note"],
                [[r.external_id, r.customer_name, r.utility, r.stage, r.ball, r.coordinator, r.value, r.note]
                 for r in rows])


@bp.get("/dashboard/<table>.csv")
@lead_required
def export(table: str):
    """One dashboard table as CSV, for the same period and filters."""
    if table not in TABLES:
        abort(404, f"No table {table!r}; the dashboard exports {', '.join(TABLES)}.")
    f = _valid_filter()
    header, rows = TABLES[table]
    return _csv(table, f, header, rows(f, desk_today()))
