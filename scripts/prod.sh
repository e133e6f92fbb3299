#!/usr/bin/env bash
# `make prod`: web (gunicorn), workers (dramatiq), the mailbox watcher and the scheduler under supervisord,
# against the DATABASE_URL and BROKER_URL in the environment. Stop with Ctrl+C (or supervisorctl shutdown).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL (postgresql://user@host:5432/db; see README, Production)}"
: "${BROKER_URL:?set BROKER_URL (redis://host:6379/0 or amqp://user:pass@host:5672/)}"
if [ -z "${SECRET_KEY:-}" ] && [ -z "${TOKEN_KEYS:-}" ]; then
  echo "set SECRET_KEY (and optionally TOKEN_KEYS): every process needs the same key" >&2
  exit 2
fi
export IXDESK_HOME="$PWD"
export IXDESK_RUN="${IXDESK_RUN:-$PWD/var/prod}"
export WEB_BIND="${WEB_BIND:-127.0.0.1:8000}" WEB_WORKERS="${WEB_WORKERS:-2}"
export WORKER_PROCESSES="${WORKER_PROCESSES:-2}" WORKER_THREADS="${WORKER_THREADS:-4}"
export IXDESK_WEB="${IXDESK_WEB:-true}"
if [ -n "${INBOX_URL:-}" ]; then export IXDESK_WATCH=true; else export IXDESK_WATCH=false; fi
mkdir -p "$IXDESK_RUN"
.venv/bin/flask --app app db upgrade
echo "ixdesk: web on http://$WEB_BIND, $WORKER_PROCESSES worker process(es), watcher: $IXDESK_WATCH; logs in $IXDESK_RUN"
exec .venv/bin/supervisord -c deploy/supervisord.conf
