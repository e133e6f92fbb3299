"""Entry point for `dramatiq workers.boot`: connect the database, then declare the actors."""
import config
from models import base, catalog_ref, storage, tokens
from models.base import connect

settings = config.load(web=False)
config.configure_logging(settings.log_level, settings.log_format)
if not settings.token_keys:
    raise config.ConfigError("TOKEN_KEYS or SECRET_KEY: workers check reply tokens, so they need the web's key")
tokens.configure(settings.token_keys)
connect(settings.database_url, pool_size=settings.database_pool_size)
base.set_desk_timezone(settings.desk_timezone)
storage.configure(settings.storage_dir, settings.storage_url)
catalog_ref.load(settings.catalog_dir)

from workers import actors  # noqa: E402,F401  (after the connection, so actors find the database)
