"""Application clocks (status date, contact, due, follow-up, expiry), document reminders, day actions."""
from peewee import *


def up(migrator, db):
    class Project(Model):
        class Meta:
            database = db
            table_name = 'project'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class DayAction(Model):
        key = CharField(index=True)
        project = ForeignKeyField(Project, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        action = CharField()
        until = DateField(null=True)
        reason = TextField(default='')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'day_action'
    db.create_tables([DayAction])

    migrator.migrate(migrator.add_column('application', 'sent_summary', TextField(default='')))
    migrator.migrate(migrator.add_column('application', 'status_changed_on', DateField(null=True)))
    migrator.migrate(migrator.add_column('application', 'last_contact_on', DateField(null=True)))
    migrator.migrate(migrator.add_column('application', 'due_on', DateField(index=True, null=True)))
    migrator.migrate(migrator.add_column('application', 'due_step', CharField(default='')))
    migrator.migrate(migrator.add_column('application', 'next_follow_up_on', DateField(index=True, null=True)))
    migrator.migrate(migrator.add_column('application', 'expires_on', DateField(index=True, null=True)))
    migrator.migrate(migrator.add_column('checklist_item', 'requested_on', DateField(null=True)))
    migrator.migrate(migrator.add_column('checklist_item', 'next_reminder_on', DateField(index=True, null=True)))
    migrator.migrate(migrator.add_column('checklist_item', 'reminders_sent', IntegerField(default=0)))
    # Existing applications: their clock starts at submission; the periodic job computes the dates.
    db.execute_sql('UPDATE application SET status_changed_on = submitted_on WHERE status_changed_on IS NULL')


def down(migrator, db):
    migrator.migrate(migrator.drop_index('checklist_item', 'checklist_item_next_reminder_on'))
    migrator.migrate(migrator.drop_index('application', 'application_next_follow_up_on'))
    migrator.migrate(migrator.drop_index('application', 'application_expires_on'))
    migrator.migrate(migrator.drop_index('application', 'application_due_on'))
    migrator.migrate(migrator.drop_column('checklist_item', 'reminders_sent'))
    migrator.migrate(migrator.drop_column('checklist_item', 'next_reminder_on'))
    migrator.migrate(migrator.drop_column('checklist_item', 'requested_on'))
    migrator.migrate(migrator.drop_column('application', 'expires_on'))
    migrator.migrate(migrator.drop_column('application', 'next_follow_up_on'))
    migrator.migrate(migrator.drop_column('application', 'due_step'))
    migrator.migrate(migrator.drop_column('application', 'due_on'))
    migrator.migrate(migrator.drop_column('application', 'last_contact_on'))
    migrator.migrate(migrator.drop_column('application', 'status_changed_on'))
    migrator.migrate(migrator.drop_column('application', 'sent_summary'))
    migrator.migrate(migrator.drop_table('day_action'))
