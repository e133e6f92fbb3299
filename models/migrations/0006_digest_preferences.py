"""Morning digest preference and the day it was last sent, per user."""
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_column('user', 'digest_opt_in', BooleanField(default=False)))
    migrator.migrate(migrator.add_column('user', 'last_digest_on', DateField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('user', 'last_digest_on'))
    migrator.migrate(migrator.drop_column('user', 'digest_opt_in'))
