"""Documents (content-addressed files with versions and review); when the review clock started."""
from peewee import *


def up(migrator, db):
    class Application(Model):
        class Meta:
            database = db
            table_name = 'application'

    class ChecklistItem(Model):
        class Meta:
            database = db
            table_name = 'checklist_item'

    class Project(Model):
        class Meta:
            database = db
            table_name = 'project'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Document(Model):
        project = ForeignKeyField(Project, on_delete='CASCADE')
        checklist_item = ForeignKeyField(ChecklistItem, null=True, on_delete='SET NULL')
        application = ForeignKeyField(Application, null=True, on_delete='SET NULL')
        sha256 = CharField(index=True)
        size = BigIntegerField()
        mime = CharField()
        original_name = TextField()
        name = CharField()
        source = CharField(default='upload')
        kind = CharField(default='file')
        version = IntegerField(default=1)
        problem = TextField(default='')
        pages = IntegerField(null=True)
        review = CharField(index=True, default='pending')
        review_reason = TextField(default='')
        reviewed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        reviewed_at = DateTimeField(null=True)
        added_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'document'
            indexes = ((('project', 'checklist_item', 'created_at'), False),)
    db.create_tables([Document])

    migrator.migrate(migrator.add_column('application', 'clock_started_on', DateField(null=True)))
    db.execute_sql('UPDATE application SET clock_started_on = COALESCE(submitted_on, status_changed_on)')


def down(migrator, db):
    migrator.migrate(migrator.drop_column('application', 'clock_started_on'))
    migrator.migrate(migrator.drop_table('document'))
