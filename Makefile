# Two commands for a fresh clone: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test prod setup system-deps bench check clean

run: setup
	$(FLASK) db upgrade
	$(FLASK) demo seed
	$(PY) app.py

test: setup system-deps
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Production processes under supervisord, against the DATABASE_URL / BROKER_URL / SECRET_KEY you export
# (README, Production).
prod: setup
	./scripts/prod.sh

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

system-deps:
	@./scripts/system-deps.sh

bench: setup
	$(PY) bench/pipeline.py

check: setup
	$(FLASK) catalog check

clean:
	rm -rf $(VENV) node_modules
