"""What each application's clocks were last computed from, so the periodic recompute skips rows that match."""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('application', 'clock_basis', TextField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('application', 'clock_basis'))
