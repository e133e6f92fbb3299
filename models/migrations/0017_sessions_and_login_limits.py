"""Server-side sessions, failed sign-ins and known devices, and per-user API request counts."""
from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class WebSession(Model):
        key_hash = CharField(unique=True)
        user = ForeignKeyField(User, null=True, on_delete='CASCADE')
        data = TextField(default='{}')
        created_at = DateTimeField()
        last_seen_at = DateTimeField()
        expires_at = DateTimeField(index=True)
        ended_at = DateTimeField(null=True)
        ended_why = CharField(default='')
        user_agent = CharField(default='')
        address = CharField(default='')
        class Meta:
            database = db
            table_name = 'web_session'
            indexes = ((('user', 'ended_at'), False),)
    db.create_tables([WebSession])

    class LoginFailure(Model):
        email = CharField(index=True)
        address = CharField(index=True)
        device_hash = CharField(default='')
        at = DateTimeField(index=True)
        cleared = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'login_failure'
    db.create_tables([LoginFailure])

    class KnownDevice(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        device_hash = CharField(unique=True)
        created_at = DateTimeField()
        last_used_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'known_device'
    db.create_tables([KnownDevice])

    class ApiUserRequestCount(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        window_start = DateTimeField()
        hits = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'api_user_request_count'
            indexes = ((('user', 'window_start'), True),)
    db.create_tables([ApiUserRequestCount])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('api_user_request_count'))
    migrator.migrate(migrator.drop_table('known_device'))
    migrator.migrate(migrator.drop_table('login_failure'))
    migrator.migrate(migrator.drop_table('web_session'))
