"""Pipeline sorts through indexes (names copied onto the project, stage and ball ranks), SQLite search by trigrams."""
from peewee import CharField, PostgresqlDatabase

from models.projects import BALL, SQLITE_SEARCH_TABLES, STAGES, install_search_and_sort, rank_sql

# On both engines, and PostgreSQL's DESC NULLS LAST twins (an ASC index read backwards puts nulls first);
# named to sort after the plain (column, id) index, which schema_diff pairs with the model first.
RANK_INDEXES = {"project_stage_rank": ("stage", STAGES), "project_ball_rank": ("ball_in_court", BALL)}
DESC_INDEXES = {"project_sort_ahj_id_desc": "sort_ahj", "project_sort_coordinator_id_desc": "sort_coordinator",
                "project_pv_kw_dc_id_desc": "pv_kw_dc"}


def up(migrator, db):
    migrator.migrate(migrator.add_column('project', 'sort_utility', CharField(default='')))
    migrator.migrate(migrator.add_column('project', 'sort_ahj', CharField(null=True)))
    migrator.migrate(migrator.add_column('project', 'sort_coordinator', CharField(null=True)))
    install_search_and_sort(db)
    db.execute_sql("UPDATE project SET sort_utility = (SELECT name FROM utility WHERE id = project.utility_id), "
                   "sort_ahj = (SELECT name FROM ahj WHERE id = project.ahj_id), "
                   'sort_coordinator = (SELECT name FROM "user" WHERE id = project.coordinator_id)')
    if not isinstance(db, PostgresqlDatabase):
        db.execute_sql("INSERT INTO project_search(project_search) VALUES ('rebuild')")
    for column in ('sort_utility', 'sort_ahj', 'sort_coordinator', 'pv_kw_dc'):
        migrator.migrate(migrator.add_index('project', (column, 'id'), False))
    for name, (column, order) in RANK_INDEXES.items():
        db.execute_sql(f"CREATE INDEX IF NOT EXISTS {name} ON project (({rank_sql(column, order)}), id)")
    if isinstance(db, PostgresqlDatabase):
        for name, column in DESC_INDEXES.items():
            db.execute_sql(f"CREATE INDEX IF NOT EXISTS {name} ON project ({column} DESC NULLS LAST, id DESC)")


def down(migrator, db):
    for name in (*RANK_INDEXES, *DESC_INDEXES):
        db.execute_sql(f"DROP INDEX IF EXISTS {name}")
    for column in ('sort_utility', 'sort_ahj', 'sort_coordinator', 'pv_kw_dc'):
        migrator.migrate(migrator.drop_index('project', f'project_{column}_id'))
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("DROP TRIGGER IF EXISTS project_sort_names ON project")
        for table in ("utility", "ahj", '"user"'):
            db.execute_sql(f"DROP TRIGGER IF EXISTS {table.strip(chr(34))}_sort_name ON {table}")
        db.execute_sql("DROP FUNCTION IF EXISTS project_sort_names(), sort_name_renamed()")
    else:
        for trigger in ("project_search_insert", "project_search_delete", "project_search_update",
                        "project_sort_names_insert", "project_sort_names_update", "utility_sort_name",
                        "ahj_sort_name", "user_sort_name"):
            db.execute_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        db.execute_sql(f"DROP TABLE IF EXISTS {SQLITE_SEARCH_TABLES[0]}")
    for column in ('sort_coordinator', 'sort_ahj', 'sort_utility'):
        migrator.migrate(migrator.drop_column('project', column))
