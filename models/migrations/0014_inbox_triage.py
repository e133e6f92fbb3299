"""Inbox triage: who a mail is assigned to, and a version so two people acting at once are told."""
from peewee import *

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    migrator.migrate(migrator.add_column('inbound_mail', 'assigned_to_id', ForeignKeyField(User, field=User.id, null=True, on_delete='SET NULL')))
    migrator.migrate(migrator.add_column('inbound_mail', 'version', IntegerField(default=1)))
    migrator.migrate(migrator.add_column('inbound_mail', 'last_action', CharField(default='')))
    migrator.migrate(migrator.add_index('inbound_mail', ('handled_at',)))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('inbound_mail', 'inbound_mail_handled_at'))
    migrator.migrate(migrator.drop_index('inbound_mail', 'inbound_mail_assigned_to_id'))
    migrator.migrate(migrator.drop_column('inbound_mail', 'last_action'))
    migrator.migrate(migrator.drop_column('inbound_mail', 'version'))
    migrator.migrate(migrator.drop_column('inbound_mail', 'assigned_to_id'))
