"""Checklist items generated from the catalog, and the project facts its rules read."""
from peewee import *


def up(migrator, db):
    class Project(Model):
        class Meta:
            database = db
            table_name = 'project'

    class ChecklistItem(Model):
        project = ForeignKeyField(Project, on_delete='CASCADE')
        application = CharField()
        doc_type = CharField()
        form_code = CharField(default='')
        label = CharField()
        form_number = CharField(null=True)
        form_version = CharField(null=True)
        rule_id = CharField()
        explanation = TextField(default='')
        source = CharField(default='')
        verified = BooleanField(default=True)
        required = BooleanField(default=True)
        status = CharField(index=True, default='missing')
        reason = TextField(default='')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'checklist_item'
            indexes = ((('project', 'application', 'doc_type', 'form_code'), True),)
    db.create_tables([ChecklistItem])

    migrator.migrate(migrator.add_column('project', 'contract_signed_on', DateField(null=True)))
    migrator.migrate(migrator.add_column('project', 'application_complete_on', DateField(null=True)))
    migrator.migrate(migrator.add_column('project', 'installed_on', DateField(null=True)))
    migrator.migrate(migrator.add_column('project', 'export_limited', BooleanField(null=True)))
    migrator.migrate(migrator.add_column('project', 'new_home', BooleanField(null=True)))
    migrator.migrate(migrator.add_column('project', 'third_party_owned', BooleanField(null=True)))
    migrator.migrate(migrator.add_column('project', 'main_panel_upgrade', BooleanField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('project', 'main_panel_upgrade'))
    migrator.migrate(migrator.drop_column('project', 'third_party_owned'))
    migrator.migrate(migrator.drop_column('project', 'new_home'))
    migrator.migrate(migrator.drop_column('project', 'export_limited'))
    migrator.migrate(migrator.drop_column('project', 'installed_on'))
    migrator.migrate(migrator.drop_column('project', 'application_complete_on'))
    migrator.migrate(migrator.drop_column('project', 'contract_signed_on'))
    migrator.migrate(migrator.drop_table('checklist_item'))
