"""Realistic demo data for a first look: users and projects across the catalog's utilities."""
from __future__ import annotations

import datetime as dt
import random

from models import checklists, clocks
from models.applications import file_application
from models.base import db, today as desk_today, utcnow
from models.events import Event
from models.places import Ahj, Utility
from models.projects import Project
from models.users import User

DEMO_USERS = (
    ("admin@example.com", "Avery Admin", "admin", "demo-admin-2026"),
    ("lead@example.com", "Lena Lead", "lead", "demo-lead-2026"),
    ("maria@example.com", "Maria Ortiz", "coordinator", "demo-coord-2026"),
    ("james@example.com", "James Chen", "coordinator", "demo-coord-2026"),
)

# (city, state, zip, AHJ) in each utility's territory.
TERRITORY = {
    "PGE": [("Oakland", "CA", "94610", "City of Oakland"), ("Fresno", "CA", "93720", "City of Fresno"),
            ("San Jose", "CA", "95125", "City of San Jose"), ("Santa Rosa", "CA", "95404", "City of Santa Rosa")],
    "SCE": [("Irvine", "CA", "92620", "City of Irvine"), ("Long Beach", "CA", "90808", "City of Long Beach"),
            ("Temecula", "CA", "92592", "City of Temecula")],
    "SDGE": [("San Diego", "CA", "92117", "City of San Diego"), ("Escondido", "CA", "92027", "City of Escondido")],
    "LADWP": [("Los Angeles", "CA", "91367", "LADBS")],
    "APS": [("Phoenix", "AZ", "85048", "City of Phoenix"), ("Flagstaff", "AZ", "86001", "City of Flagstaff")],
    "SRP": [("Mesa", "AZ", "85209", "City of Mesa"), ("Gilbert", "AZ", "85296", "Town of Gilbert")],
    "XCEL_CO": [("Denver", "CO", "80219", "City and County of Denver"), ("Boulder", "CO", "80304", "City of Boulder")],
    "DUKE_NC": [("Charlotte", "NC", "28277", "Mecklenburg County"), ("Raleigh", "NC", "27615", "City of Raleigh")],
    "FPL": [("Miami", "FL", "33176", "Miami-Dade County"), ("West Palm Beach", "FL", "33401", "City of West Palm Beach")],
    "HECO": [("Honolulu", "HI", "96816", "City and County of Honolulu")],
    "EVERSOURCE_MA": [("Worcester", "MA", "01602", "City of Worcester"), ("Cambridge", "MA", "02138", "City of Cambridge")],
    "NGRID_MA": [("Lowell", "MA", "01852", "City of Lowell"), ("Quincy", "MA", "02169", "City of Quincy")],
    "ONCOR": [("Dallas", "TX", "75214", "City of Dallas"), ("Fort Worth", "TX", "76107", "City of Fort Worth")],
}
FIRST = ("Olivia Liam Emma Noah Ava Elijah Sophia Mateo Isabella Lucas Mia Levi Amelia Ethan Harper Daniel "
         "Evelyn Henry Camila Owen Priya Wei Fatima Diego Aiko Tomás Grace Samuel Nora Kenji").split()
LAST = ("Morrison Garcia Nguyen Patel Johnson Kim Hernandez Okafor Schmidt Rossi Cohen Yamamoto Silva "
        "Walker Brooks Reyes Kowalski Haddad Bennett Park Alvarez Foster Ibrahim Murphy Lindqvist").split()
STREETS = ("Maple Ave", "Oak St", "Sunset Blvd", "Ridgeview Dr", "Canyon Rd", "Willow Ln", "Mesa Verde Dr",
           "Harbor View Ct", "Juniper Way", "Palm Ct", "Elm St", "Lakeshore Dr", "Cedar Ridge Rd")
PROGRAMS = {"PGE": "NBT", "SCE": "NBT", "SDGE": "NBT", "HECO": "SMART_DER_EXPORT", "DUKE_NC": "RSC",
            "XCEL_CO": "NET_METERING", "EVERSOURCE_MA": "NET_METERING", "NGRID_MA": "NET_METERING"}
# Stage -> statuses of (utility Part 1, AHJ permit, utility Part 2); None = no such application yet.
STAGE_STATES = {
    "intake": [(None, None, None)],
    "design": [(None, None, None)],
    "permitting": [(None, "SUBMITTED", None), (None, "DEFICIENT", None)],
    "ix_approval": [("SUBMITTED", "APPROVED_TO_INSTALL", None), ("DEFICIENT", "APPROVED_TO_INSTALL", None),
                    ("TECHNICAL_REVIEW", "SUBMITTED", None), ("COMPLETENESS_REVIEW", "APPROVED_TO_INSTALL", None)],
    "install": [("APPROVED_TO_INSTALL", "APPROVED_TO_INSTALL", None)],
    "inspection": [("APPROVED_TO_INSTALL", "INSPECTION_SCHEDULED", None),
                   ("APPROVED_TO_INSTALL", "INSPECTION_FAILED", None)],
    "pto_requested": [("APPROVED_TO_INSTALL", "PTO_GRANTED", "COMPLETION_SUBMITTED"),
                      ("APPROVED_TO_INSTALL", "PTO_GRANTED", "METER_ORDERED"),
                      ("APPROVED_TO_INSTALL", "PTO_GRANTED", "DEFICIENT")],
    "pto": [("APPROVED_TO_INSTALL", "PTO_GRANTED", "PTO_GRANTED")],
    "on_hold": [("AGREEMENT_SENT", "APPROVED_TO_INSTALL", None)],
    "cancelled": [("WITHDRAWN", None, None)],
}
STAGE_WEIGHTS = {"intake": 12, "design": 10, "permitting": 25, "ix_approval": 45, "install": 20,
                 "inspection": 18, "pto_requested": 30, "pto": 25, "on_hold": 8, "cancelled": 7}
NOTES = ("Called customer, left voicemail about the utility bill.",
         "Utility portal shows application still in review.",
         "Customer sent signed A&A via DocuSign.",
         "Design revised the SLD after the site survey; resubmission needed.",
         "AHJ requested the rapid-shutdown label detail.")


def seed(count: int = 200, rng_seed: int = 2026) -> list[tuple[str, str, str]]:
    """Create the demo users (if missing) and count projects; returns (email, role, password)."""
    rng = random.Random(rng_seed)
    with db.atomic():
        users = []
        for email, name, role, password in DEMO_USERS:
            user = User.get_or_none(User.email == email) or User.register(email, name, role, password)
            users.append(user)
        coordinators = [u for u in users if u.role == "coordinator"]
        utilities = {u.code: u for u in Utility.select()}
        codes = [c for c in TERRITORY if c in utilities]
        stages = list(STAGE_WEIGHTS)
        today = desk_today()
        for n in range(count):
            _project(rng, n, utilities[rng.choice(codes)], rng.choices(stages, list(STAGE_WEIGHTS.values()))[0],
                     rng.choices(coordinators + [None], [45, 45, 10])[0], users[1], today)
    return [(e, r, p) for e, _, r, p in DEMO_USERS]


def _project(rng, n, utility, stage, coordinator, lead, today):
    city, state, zip_, ahj_name = rng.choice(TERRITORY[utility.code])
    first, last = rng.choice(FIRST), rng.choice(LAST)
    house = rng.randint(100, 9899)
    product = rng.choices(["pv", "pv_battery", "battery", "solar_roof"], [50, 35, 10, 5])[0]
    dc = None if product == "battery" else round(rng.uniform(3.2, 14.8), 2)
    battery = round(rng.choice([13.5, 13.5, 27.0, 10.0, 20.0]), 1) if product in ("pv_battery", "battery") else None
    age = rng.randint(1, 160)
    created = utcnow() - dt.timedelta(days=age, hours=rng.randint(0, 23))
    project = Project.create(
        external_id=f"{house}{last[:4].upper()}" + ("-1" if n % 37 == 0 else ""),
        customer_name=f"{first} {last}",
        customer_email=f"{first}.{last}{n}@example.net".lower(),
        customer_phone=f"+1{rng.choice(['415', '602', '303', '704', '305', '808', '617', '214'])}555{rng.randint(100, 199):04d}",
        street=f"{house} {rng.choice(STREETS)}", city=city, state=state, zip=zip_,
        utility=utility, utility_account=f"{rng.randint(10**9, 10**10 - 1)}",
        ahj=Ahj.named(ahj_name, state), product_type=product, pv_kw_dc=dc,
        pv_kw_ac=round(dc * rng.uniform(0.78, 0.9), 2) if dc else None, battery_kwh=battery,
        program=PROGRAMS.get(utility.code), stage=stage, coordinator=coordinator,
        created_at=created, updated_at=created + dt.timedelta(days=rng.randint(0, age)))
    if Project.select().where(Project.external_id == project.external_id, Project.id != project.id).exists():
        project.external_id = f"{project.external_id}-{n}"
    part1, permit, part2 = rng.choice(STAGE_STATES[stage])
    # Most work is recent; a few applications have gone quiet for weeks, as on any real desk.
    submitted = today - dt.timedelta(days=rng.choice([rng.randint(1, 12)] * 4 + [rng.randint(13, 45)]))
    for kind, status in (("utility_part1", part1), ("ahj_permit", permit), ("utility_part2", part2)):
        if status:
            ref = f"{utility.code}-INT-{rng.randint(10**6, 10**7 - 1)}" if kind != "ahj_permit" \
                else f"B{today:%y}-{rng.randint(10000, 99999)}"
            decided = min(today, submitted + dt.timedelta(days=rng.randint(3, 20))) \
                if status in ("APPROVED_TO_INSTALL", "PTO_GRANTED") else None
            app = file_application(project, kind, status, ref, on=submitted, decided_on=decided)
            if rng.random() < 0.6:  # most have been chased since
                app.last_contact_on = min(today, submitted + dt.timedelta(days=rng.randint(1, 6)))
                app.refresh_clocks()
                app.save()
    if rng.random() < 0.06:
        project.flagged_at, project.flagged_reason, project.flagged_by = (
            utcnow(), "Utility has not answered in three weeks; please escalate.", coordinator or lead)
    project.refresh_rollups()
    project.save()
    Event.record(project, "import", None, summary="Created from the CRM", actor_label="demo")
    checklists.sync(project)
    # Paperwork behind an approval was accepted; show that, as a real desk would.
    done = [kind for kind, status in (("utility_part1", part1), ("ahj_permit", permit), ("utility_part2", part2))
            if status in ("APPROVED_TO_INSTALL", "PTO_GRANTED", "METER_ORDERED", "COMPLETION_SUBMITTED")]
    if done:
        checklists.ChecklistItem.update(status="accepted").where(
            checklists.ChecklistItem.project == project, checklists.ChecklistItem.application.in_(done)).execute()
    # Some documents are waiting on the customer, some have come in and need a look.
    open_items = list(checklists.ChecklistItem.select().where(
        checklists.ChecklistItem.project == project, checklists.ChecklistItem.status == "missing",
        checklists.ChecklistItem.doc_type.in_(("UTILITY_BILL", "CUSTOMER_AUTH", "INTERCONNECTION_AGREEMENT"))))
    for item in open_items[:1]:
        roll = rng.random()
        if roll < 0.3:
            item.status, item.requested_on = "requested", today - dt.timedelta(days=rng.randint(1, 12))
            item.next_reminder_on = clocks.next_reminder(item.requested_on, 0)
            item.save()
        elif roll < 0.45:
            item.status = "received"
            item.save()
    for _ in range(rng.randint(0, 3)):
        Event.create(project=project, kind="note", actor=coordinator or lead, summary="Note",
                     body=rng.choice(NOTES), created_at=created + dt.timedelta(days=rng.randint(0, age)))
