"""The command-line tools, as an operator runs them."""
from __future__ import annotations

from models import Project, User
from models.project_import import COLUMNS


def test_users_create_list_deactivate(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "Lee@Example.com", "--name", "Lee Lead", "--role", "lead"],
                           input="a-long-password\n")
    assert result.exit_code == 0, result.output
    assert "created lead lee@example.com" in result.output
    assert User.authenticate("lee@example.com", "a-long-password") is not None
    again = runner.invoke(args=["users", "create", "lee@example.com", "--name", "X"], input="a-long-password\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(args=["users", "create", "x@example.com", "--name", "X"], input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    assert "lee@example.com" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "deactivate", "lee@example.com"]).exit_code == 0
    assert User.authenticate("lee@example.com", "a-long-password") is None
    assert runner.invoke(args=["users", "deactivate", "ghost@example.com"]).exit_code == 1


def test_projects_import_dry_run_then_real(app, db, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(",".join(COLUMNS) + "\n" + "A1,Ann,,,,,,,SCE,,pv,,,,,,,,\n" + "B2,Bob,,,,,,,Nowhere,,pv,,,,,,,,\n")
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["projects", "import", str(path), "--dry-run"])
    assert dry.exit_code == 1 and "1 would be created" in dry.output and "line 3 (B2): utility: unknown" in dry.output
    assert Project.select().count() == 0
    real = runner.invoke(args=["projects", "import", str(path)])
    assert "1 were created" in real.output and Project.select().count() == 1


def test_db_status_and_catalog_check(app, db):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "status"]).output.strip() == "up to date"
    result = runner.invoke(args=["catalog", "check"])
    assert result.exit_code == 0 and "catalog OK: 13 utilities" in result.output


def test_demo_seed_once_and_never_in_production(db):
    from app import create_app
    from tests.conftest import overrides
    runner = create_app(overrides(broker_url="embedded")).test_cli_runner()
    first = runner.invoke(args=["demo", "seed", "--projects", "30"])
    assert first.exit_code == 0 and "lead@example.com" in first.output and "demo-lead-2026" in first.output
    assert Project.select().count() == 30 and Project.select().where(Project.coordinator.is_null(False)).count() > 0
    second = runner.invoke(args=["demo", "seed"])
    assert "skipped" in second.output and Project.select().count() == 30
    prod = create_app(overrides(broker_url="redis://127.0.0.1:6379/0")).test_cli_runner()
    refused = prod.invoke(args=["demo", "seed"])
    assert refused.exit_code == 1 and "refusing" in refused.output


def test_demo_mail_and_inbox_ingest_json(db, tmp_path):
    """The first seed drops demo mail in the Maildir; `inbox ingest --json` reports what became of each."""
    import json
    from app import create_app
    from tests.conftest import overrides
    folder = tmp_path / "mail"
    runner = create_app(overrides(broker_url="embedded", inbox_urls=(f"maildir:{folder}",))).test_cli_runner()
    seeded = runner.invoke(args=["demo", "seed", "--projects", "40"])
    assert seeded.exit_code == 0 and "4 demo messages placed" in seeded.output, seeded.output
    result = runner.invoke(args=["inbox", "ingest", "--json", str(folder)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 4
    by_file = {r["file"].rsplit("demo-", 1)[1]: r for r in rows}
    deficiency = by_file["1-deficiency.eml"]
    assert (deficiency["kind"], deficiency["notice"], deficiency["matched_by"]) == ("utility_notice", "deficiency",
                                                                                    "reference")
    # Demo mail was never received by a server that authenticated it: the desk suggests, a person accepts.
    assert deficiency["status_change"] is None and deficiency["state"] == "needs_review"
    assert deficiency["suggested_change"]["to"] == "DEFICIENT" and deficiency["auth"]["verdict"] == "none"
    approval = by_file["2-approval.eml"]
    assert approval["suggested_change"]["to"] == "APPROVED_TO_INSTALL"
    assert approval["documents"] == ["Approval_Letter.pdf"]
    reply = by_file["3-customer-reply.eml"]
    assert (reply["kind"], reply["matched_by"], reply["status_change"]) == ("human", "token", None)
    assert reply["documents"] == ["Signed_Authorization.pdf"]
    assert by_file["4-out-of-office.eml"]["kind"] == "auto_reply" and by_file["4-out-of-office.eml"]["state"] == "processed"
    for row in rows:
        assert set(row) >= {"file", "message_id", "state", "kind", "project", "matched_by", "suggestions", "notice",
                            "status_change", "documents"}
    # Ingesting the same files again finds the stored copies: nothing new, nothing applied twice.
    again = runner.invoke(args=["inbox", "ingest", "--json", str(folder)])
    assert [json.loads(line)["id"] for line in again.output.splitlines()] == [r["id"] for r in rows]
