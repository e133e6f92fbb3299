"""Text messages and opt-outs; the per-project opt-in for automatic reminders."""
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

    class SmsMessage(Model):
        project = ForeignKeyField(Project, null=True, on_delete='CASCADE')
        contact = ForeignKeyField(Contact, null=True, on_delete='SET NULL')
        direction = CharField(default='outbound')
        phone = CharField(index=True)
        body = TextField()
        state = CharField(index=True, default='queued')
        provider_id = CharField(unique=True, null=True)
        attempts = IntegerField(default=0)
        last_error = TextField(default='')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField(index=True)
        sent_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'sms_message'
    db.create_tables([SmsMessage])

    class SmsOptOut(Model):
        phone = CharField(unique=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'sms_opt_out'
    db.create_tables([SmsOptOut])

    migrator.migrate(migrator.add_column('project', 'auto_reminders', BooleanField(index=True, default=False)))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('project', 'project_auto_reminders'))
    migrator.migrate(migrator.drop_column('project', 'auto_reminders'))
    migrator.migrate(migrator.drop_table('sms_opt_out'))
    migrator.migrate(migrator.drop_table('sms_message'))
