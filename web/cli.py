"""Command-line tools: `flask db|users|projects|catalog|demo ...`."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from models import User, schema
from models.base import db
from models.users import ROLES, UserError

db_cli = AppGroup("db", help="Schema migrations.")
users_cli = AppGroup("users", help="People who log in.")
projects_cli = AppGroup("projects", help="Import and export projects.")
catalog_cli = AppGroup("catalog", help="The requirements catalog.")
demo_cli = AppGroup("demo", help="Demo data for a first look.")


def register(app: Flask) -> None:
    from web.inbox_cli import inbox_cli
    for group in (inbox_cli, db_cli, users_cli, projects_cli, catalog_cli, demo_cli, schedule_cmd, recompute_clocks_cmd):
        app.cli.add_command(group)


@click.command("schedule")
def schedule_cmd():
    """Production: send the periodic jobs (clock recomputation) to the workers; run exactly one of these."""
    import threading
    from workers import schedule
    click.echo("scheduler running; Ctrl+C to stop")
    try:
        schedule.run(threading.Event())
    except KeyboardInterrupt:
        pass


@click.command("recompute-clocks")
def recompute_clocks_cmd():
    """Recompute SLA, follow-up and reminder dates now (what the periodic job does)."""
    from models.applications import recompute_clocks
    with db.connection_context():
        click.echo(f"{recompute_clocks()} rows changed")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply pending migrations and sync utilities from the catalog."""
    from models import Utility
    from models.catalog_ref import current
    with db.connection_context():
        applied = schema.upgrade()
        changed = Utility.sync(current())
    click.echo(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}; "
               f"{changed} utility row(s) synced")


@db_cli.command("status")
def db_status():
    """List migrations not yet applied."""
    with db.connection_context():
        todo = schema.pending()
    click.echo("up to date" if not todo else "pending: " + ", ".join(todo))


@db_cli.command("makemigration")
@click.argument("name")
def db_makemigration(name):
    """Draft the next migration from the models' drift against the (upgraded) database."""
    with db.connection_context():
        path = schema.draft_migration(name)
    click.echo(f"wrote {path}; review it before committing" if path else "models and database match")


def _password(prompt: bool) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True) if prompt else ""


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), default="coordinator", show_default=True)
def users_create(email, name, role):
    """Create a user; the password is read from stdin or prompted for."""
    try:
        with db.connection_context():
            user = User.register(email, name, role, _password(True))
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {user.role} {user.email}")


@users_cli.command("list")
def users_list():
    """List users."""
    with db.connection_context():
        for u in User.select().order_by(User.role, User.email):
            click.echo(f"{u.email:40} {u.role:12} {'active' if u.active else 'inactive':8} {u.name}")


@users_cli.command("deactivate")
@click.argument("email")
def users_deactivate(email):
    """Deactivate a user (they can no longer log in, their sessions end now; their history stays)."""
    from models.sessions import deactivate
    with db.connection_context():
        user = User.get_or_none(User.email == email.strip().lower())
        if user is None:
            raise click.ClickException(f"no user {email}")
        ended = deactivate(user)
    click.echo(f"deactivated {email}; {ended} session(s) signed out")


@users_cli.command("token")
@click.argument("email")
@click.option("--name", required=True, help="What will use the token, e.g. 'CRM sync'.")
def users_token(email, name):
    """Issue an API token for a user; the secret is printed once and never stored."""
    from models import ApiToken
    from models.api_tokens import TokenError
    with db.connection_context():
        user = User.get_or_none((User.email == email.strip().lower()) & (User.active == True))  # noqa: E712
        if user is None:
            raise click.ClickException(f"no active user {email}")
        try:
            token, secret = ApiToken.issue(user, name)
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"token “{token.name}” for {user.email} (copy it now; it is not shown again):", err=True)
    click.echo(secret)


@projects_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report, change nothing.")
def projects_import(path, dry_run):
    """Import projects from a CSV file, keyed on external_id (re-import updates)."""
    from models.catalog_ref import find_utility_code
    from models.project_import import CsvFileError, Importer, count_rows, decode
    try:
        text = decode(path.read_bytes())
        total = count_rows(text)
        with db.connection_context():
            report = Importer(find_utility_code, None, dry_run).run(
                text, progress=lambda d, n: click.echo(f"\r{d}/{n} rows", nl=False, err=True), total=total)
    except CsvFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("", err=True)
    verb = "would be" if dry_run else "were"
    click.echo(f"{report.total} rows: {report.created} {verb} created, {report.updated} {verb} updated, "
               f"{report.unchanged} unchanged, {len(report.errors)} with errors")
    for row in report.errors:
        click.echo(f"  line {row.line} ({row.external_id or 'no external_id'}): {'; '.join(row.errors)}")
    if report.ignored_columns:
        click.echo(f"ignored columns: {', '.join(report.ignored_columns)}")
    if report.errors:
        sys.exit(1)


@projects_cli.command("checklist")
@click.argument("external_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def projects_checklist(external_id, as_json):
    """Print a project's checklist and the catalog's warnings."""
    import json
    from models import Project, checklists
    with db.connection_context():
        project = Project.get_or_none(Project.external_id == external_id.strip())
        if project is None:
            raise click.ClickException(f"no project with external_id {external_id!r}")
        data = checklists.report(project)
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    for item in data["items"]:
        form = f" [form {item['form_number']}{' ' + item['form_version'] if item['form_version'] else ''}]" \
            if item["form_number"] else ""
        gone = "" if item["required"] else " (no longer required)"
        click.echo(f"{item['application']:14} {item['status']:9} {item['doc_label']}{form}{gone}  <- {item['rule_id']}")
    for w in data["warnings"]:
        click.echo(f"warning ({w['kind']}): {w['message']}")


@catalog_cli.command("check")
def catalog_check():
    """Validate the catalog; exits non-zero naming the file and entry of each problem."""
    import catalog
    from flask import current_app
    path = current_app.config["IXDESK"].catalog_dir
    try:
        loaded = catalog.load_catalog(path)
    except catalog.CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    from models import prefill
    try:
        forms = prefill.load_templates(path)
    except catalog.CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    rules = sum(len(u.rules) for u in loaded.utilities.values())
    click.echo(f"catalog OK: {len(loaded.utilities)} utilities, {rules} utility rules, "
               f"{len(loaded.doc_types)} document types, {len(loaded.programs)} programs, "
               f"{len(forms)} prefill form(s)")


@demo_cli.command("seed")
@click.option("--projects", default=200, show_default=True)
@click.option("--force", is_flag=True, help="Seed even in production (demo logins have published passwords).")
def demo_seed(projects, force):
    """Create demo users and projects when the database has no projects (prints credentials once)."""
    from flask import current_app
    from models import Project
    from models.demo import seed
    if current_app.config["IXDESK"].production and not force:
        raise click.ClickException("refusing to seed demo users with published passwords in production; "
                                   "use --force on a staging copy")
    with db.connection_context():
        if Project.select().exists():
            click.echo("database already has projects; demo seed skipped")
            return
        users = seed(projects)
        settings = current_app.config["IXDESK"]
        maildir = next((u for u in settings.inbox_urls if u.startswith("maildir:")), None)
        if maildir:
            from inbox.demo import drop
            from inbox.maildir import folder_of
            dropped = drop(folder_of(maildir), settings.reply_to or settings.mail_address)
            click.echo(f"{dropped} demo messages placed in {folder_of(maildir)}/new (the inbox takes them in)")
    click.echo(f"seeded {projects} demo projects. Demo logins (printed once, also in README):")
    for email, role, password in users:
        click.echo(f"  {role:12} {email:32} {password}")
