"""API tokens with their per-minute request counts; webhooks and their delivery log."""
from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class ApiToken(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        name = CharField()
        token_hash = CharField(unique=True)
        hint = CharField()
        created_at = DateTimeField()
        last_used_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'api_token'
    db.create_tables([ApiToken])

    class ApiRequestCount(Model):
        token = ForeignKeyField(ApiToken, on_delete='CASCADE')
        window_start = DateTimeField()
        hits = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'api_request_count'
            indexes = ((('token', 'window_start'), True),)
    db.create_tables([ApiRequestCount])

    class Webhook(Model):
        url = CharField(max_length=2000)
        secret = CharField()
        events = JSONField()
        active = BooleanField(index=True, default=True)
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        deactivated_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'webhook'
    db.create_tables([Webhook])

    class WebhookDelivery(Model):
        webhook = ForeignKeyField(Webhook, on_delete='CASCADE')
        event = CharField(index=True)
        payload = JSONField()
        state = CharField(index=True, default='pending')
        attempts = IntegerField(default=0)
        last_status_code = IntegerField(null=True)
        last_error = TextField(default='')
        next_attempt_at = DateTimeField(null=True)
        created_at = DateTimeField(index=True)
        delivered_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'webhook_delivery'
    db.create_tables([WebhookDelivery])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('webhook_delivery'))
    migrator.migrate(migrator.drop_table('webhook'))
    migrator.migrate(migrator.drop_table('api_request_count'))
    migrator.migrate(migrator.drop_table('api_token'))
