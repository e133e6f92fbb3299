"""Contacts per project (with bounce state) and outbound messages (recorded before delivery)."""
from peewee import *


def up(migrator, db):
    class Application(Model):
        class Meta:
            database = db
            table_name = 'application'

    class Project(Model):
        class Meta:
            database = db
            table_name = 'project'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Contact(Model):
        project = ForeignKeyField(Project, on_delete='CASCADE')
        name = CharField(default='')
        role = CharField(default='customer')
        email = CharField(index=True, null=True)
        phone = CharField(index=True, null=True)
        bouncing_since = DateTimeField(null=True)
        bounce_reason = TextField(default='')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'contact'
            indexes = ((('project', 'email'), True),)
    db.create_tables([Contact])

    class OutboundMessage(Model):
        project = ForeignKeyField(Project, on_delete='CASCADE')
        application = ForeignKeyField(Application, null=True, on_delete='SET NULL')
        template = CharField(default='')
        recipients = JSONField()
        subject = CharField(max_length=300)
        body = TextField()
        attachments = JSONField(null=True)
        message_id = CharField(unique=True)
        in_reply_to = CharField(null=True)
        references = TextField(default='')
        automatic = BooleanField(default=False)
        state = CharField(index=True, default='queued')
        attempts = IntegerField(default=0)
        last_error = TextField(default='')
        delivered_to = CharField(default='')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField(index=True)
        sent_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'outbound_message'
    db.create_tables([OutboundMessage])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('outbound_message'))
    migrator.migrate(migrator.drop_table('contact'))
