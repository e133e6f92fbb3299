"""What people decided about a mail (unlinked projects, rejected changes), kept across re-runs."""
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_column('inbound_mail', 'decisions', JSONField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('inbound_mail', 'decisions'))
