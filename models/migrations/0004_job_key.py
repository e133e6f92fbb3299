"""Job.key: a unique key for jobs that may exist only once (applying a dry run)."""
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_column('job', 'key', CharField(unique=True, null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('job', 'job_key'))
    migrator.migrate(migrator.drop_column('job', 'key'))
