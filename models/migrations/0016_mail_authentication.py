"""Mail authentication: the sender verdict decided at first ingest; failures of the mail itself counted; files proposed for items."""
from peewee import *


def up(migrator, db):
    class ChecklistItem(Model):
        class Meta:
            database = db
            table_name = 'checklist_item'

    migrator.migrate(migrator.add_column('inbound_mail', 'auth', JSONField(null=True)))
    migrator.migrate(migrator.add_column('inbound_mail', 'failures', IntegerField(default=0)))
    migrator.migrate(migrator.add_column('document', 'proposed_item_id', ForeignKeyField(
        ChecklistItem, field=ChecklistItem.id, null=True, on_delete='SET NULL')))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('document', 'document_proposed_item_id'))
    migrator.migrate(migrator.drop_column('document', 'proposed_item_id'))
    migrator.migrate(migrator.drop_column('inbound_mail', 'failures'))
    migrator.migrate(migrator.drop_column('inbound_mail', 'auth'))
