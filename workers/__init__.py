"""Dramatiq workers. `dramatiq workers` boots a worker process: config, database, broker, actors."""
