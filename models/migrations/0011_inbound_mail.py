"""Inbound mail (raw copy + what the pipeline decided), watched mailboxes with their cursor and lease."""
from peewee import *


def up(migrator, db):
    class Application(Model):
        class Meta:
            database = db
            table_name = 'application'

    class Event(Model):
        class Meta:
            database = db
            table_name = 'event'

    class Project(Model):
        class Meta:
            database = db
            table_name = 'project'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class InboundMail(Model):
        message_id = CharField(index=True, max_length=998)
        sha256 = CharField(index=True)
        dedupe_key = CharField(index=True)
        size = BigIntegerField()
        source = CharField()
        mailbox = CharField(index=True, default='')
        uid = BigIntegerField(null=True)
        uidvalidity = BigIntegerField(null=True)
        received_at = DateTimeField(index=True)
        state = CharField(index=True, default='pending')
        reason = TextField(default='')
        duplicate_of = ForeignKeyField('self', null=True, on_delete='SET NULL')
        attempts = IntegerField(default=0)
        processing_since = DateTimeField(null=True)
        processed_at = DateTimeField(null=True)
        subject = TextField(default='')
        from_addr = CharField(index=True, default='')
        from_name = CharField(default='')
        to_addrs = TextField(default='')
        sent_at = DateTimeField(null=True)
        in_reply_to = TextField(default='')
        references = TextField(default='')
        body_text = TextField(default='')
        body_html = TextField(default='')
        kind = CharField(index=True, default='')
        project = ForeignKeyField(Project, null=True, on_delete='SET NULL')
        matched_by = CharField(default='')
        confidence = FloatField(null=True)
        suggestions = JSONField(null=True)
        notice = CharField(null=True)
        application = ForeignKeyField(Application, null=True, on_delete='SET NULL')
        status_change = JSONField(null=True)
        suggested_change = JSONField(null=True)
        documents = JSONField(null=True)
        event = ForeignKeyField(Event, null=True, on_delete='SET NULL')
        trace = JSONField(null=True)
        handled_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        handled_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'inbound_mail'
            indexes = ((('mailbox', 'uidvalidity', 'uid'), False),)
    db.create_tables([InboundMail])

    class Mailbox(Model):
        key = CharField(unique=True)
        uidvalidity = BigIntegerField(null=True)
        last_uid = BigIntegerField(default=0)
        lease_holder = CharField(default='')
        lease_until = DateTimeField(null=True)
        last_poll_at = DateTimeField(null=True)
        last_error = TextField(default='')
        last_error_at = DateTimeField(null=True)
        fetched = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'mailbox'
    db.create_tables([Mailbox])

    migrator.migrate(migrator.add_index('project', ('customer_email',)))
    migrator.migrate(migrator.add_index('project', ('utility_account',)))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('project', 'project_utility_account'))
    migrator.migrate(migrator.drop_index('project', 'project_customer_email'))
    migrator.migrate(migrator.drop_table('mailbox'))
    migrator.migrate(migrator.drop_table('inbound_mail'))
