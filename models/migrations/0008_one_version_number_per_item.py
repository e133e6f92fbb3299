"""One version number per checklist item and kind: two uploads at once cannot both be "v2"."""
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_index('document', ('checklist_item_id', 'kind', 'version'), unique=True))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('document', 'document_checklist_item_id_kind_version'))
