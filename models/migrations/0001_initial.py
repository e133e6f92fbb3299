"""Initial schema: users, utilities, AHJs, projects, applications, timeline events, jobs."""
from peewee import *


def up(migrator, db):
    class Ahj(Model):
        name = CharField()
        state = CharField(max_length=2, default='')
        class Meta:
            database = db
            table_name = 'ahj'
            indexes = ((('name', 'state'), True),)
    db.create_tables([Ahj])

    class Utility(Model):
        code = CharField(unique=True)
        name = CharField()
        class Meta:
            database = db
            table_name = 'utility'
    db.create_tables([Utility])

    class User(Model):
        email = CharField(unique=True)
        name = CharField()
        role = CharField(index=True, default='coordinator')
        active = BooleanField(default=True)
        password_hash = CharField()
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'user'
    db.create_tables([User])

    class Project(Model):
        external_id = CharField(unique=True)
        customer_name = CharField(index=True)
        customer_email = CharField(null=True)
        customer_phone = CharField(null=True)
        street = CharField(default='')
        city = CharField(index=True, default='')
        state = CharField(index=True, max_length=2, default='')
        zip = CharField(max_length=10, default='')
        utility = ForeignKeyField(Utility)
        utility_account = CharField(null=True)
        ahj = ForeignKeyField(Ahj, null=True, on_delete='SET NULL')
        product_type = CharField(index=True, default='pv')
        pv_kw_dc = FloatField(null=True)
        pv_kw_ac = FloatField(null=True)
        battery_kwh = FloatField(null=True)
        program = CharField(null=True)
        stage = CharField(index=True, default='intake')
        ball_in_court = CharField(index=True, default='us')
        needs_attention = BooleanField(index=True, default=False)
        coordinator = ForeignKeyField(User, null=True, on_delete='SET NULL')
        flagged_at = DateTimeField(index=True, null=True)
        flagged_reason = TextField(null=True)
        flagged_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        search_text = TextField(default='')
        created_at = DateTimeField(index=True)
        updated_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'project'
    db.create_tables([Project])

    class Application(Model):
        project = ForeignKeyField(Project, on_delete='CASCADE')
        kind = CharField(index=True)
        status = CharField(index=True, default='DRAFT')
        reference_number = CharField(index=True, null=True)
        submitted_on = DateField(null=True)
        decided_on = DateField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'application'
            indexes = ((('project', 'kind'), False),)
    db.create_tables([Application])

    class Event(Model):
        project = ForeignKeyField(Project, on_delete='CASCADE')
        application = ForeignKeyField(Application, null=True, on_delete='SET NULL')
        kind = CharField(index=True)
        actor = ForeignKeyField(User, null=True, on_delete='SET NULL')
        actor_label = CharField(default='')
        summary = CharField()
        body = TextField(default='')
        data = JSONField(null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'event'
            indexes = ((('project', 'created_at'), False),)
    db.create_tables([Event])

    class Job(Model):
        kind = CharField(index=True)
        state = CharField(index=True, default='queued')
        done = IntegerField(default=0)
        total = IntegerField(default=0)
        message = TextField(default='')
        params = JSONField(null=True)
        result = JSONField(null=True)
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        started_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'job'
    db.create_tables([Job])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('job'))
    migrator.migrate(migrator.drop_table('event'))
    migrator.migrate(migrator.drop_table('application'))
    migrator.migrate(migrator.drop_table('project'))
    migrator.migrate(migrator.drop_table('user'))
    migrator.migrate(migrator.drop_table('utility'))
    migrator.migrate(migrator.drop_table('ahj'))
