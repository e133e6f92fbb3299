"""Phone calls per project, with a follow-up date that returns them to the day list."""
from peewee import *


def up(migrator, db):
    class Contact(Model):
        class Meta:
            database = db
            table_name = 'contact'

    class Project(Model):
        class Meta:
            database = db
            table_name = 'project'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class CallLog(Model):
        project = ForeignKeyField(Project, on_delete='CASCADE')
        contact = ForeignKeyField(Contact, null=True, on_delete='SET NULL')
        direction = CharField(default='outbound')
        outcome = CharField(default='reached')
        notes = TextField(default='')
        follow_up_on = DateField(index=True, null=True)
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'call_log'
    db.create_tables([CallLog])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('call_log'))
