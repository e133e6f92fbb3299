"""Short leases on claimed mail (renewed by a heartbeat) and when the sweeper last woke a mail again."""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('inbound_mail', 'lease_holder', CharField(default='')))
    migrator.migrate(migrator.add_column('inbound_mail', 'lease_until', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('inbound_mail', 'woken_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_index('inbound_mail', ('lease_until',), False))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('inbound_mail', 'inbound_mail_lease_until'))
    migrator.migrate(migrator.drop_column('inbound_mail', 'woken_at'))
    migrator.migrate(migrator.drop_column('inbound_mail', 'lease_until'))
    migrator.migrate(migrator.drop_column('inbound_mail', 'lease_holder'))
