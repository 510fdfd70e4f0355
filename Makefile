# Cadence: `make run` to try it, `make test` to test it. See README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test bench install chromium vnu redis pdftotext lint check clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# The embedded default: SQLite and a filesystem broker under var/, web + worker + beat.
# honcho hands each process a PORT of its own (the web's, +100 for the worker, +200 for beat):
# SITE_URL, unless set, carries the web's port to the worker, whose messages link to it.
run: install
	mkdir -p var/mail var/sms
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo --if-empty
	@echo ""
	@echo "Cadence: http://127.0.0.1:$(PORT)/  (password for every demo login: cadence-demo)"
	@echo "  dr.osei (clinician), desk.kim (front desk), admin (clinic admin), patient01 (patient)"
	@echo "  Staff second step (demo accounts only): an authenticator app with the secret CADENCEDEMOSTAFFTOTPSECRETONLY23,"
	@echo "  or the current code from: $(BIN)/python manage.py demo_code"
	@echo ""
	SITE_URL="$${SITE_URL:-http://127.0.0.1:$(PORT)}" $(BIN)/honcho start --port $(PORT)

# Browser tests drive Debian's Chromium; install it when it is missing and we may.
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	  else echo "Install Debian's chromium (apt-get install chromium) for the browser tests." >&2; exit 1; fi; }

# The Nu HTML Checker (tests/clinic/test_valid_html.py): npm's vnu-jar on Debian's Java, each
# installed once when missing. The jar goes to var/tools/; the test takes the newest there.
VNU_VERSION := 26.9.27
VNU_JAR := var/tools/vnu-$(VNU_VERSION).jar

define apt_install
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1)) >/dev/null; \
  else echo "Install Debian's $(1) (apt-get install $(1)) for the tests." >&2; exit 1; fi
endef

vnu: $(VNU_JAR)
	@command -v java >/dev/null || { $(call apt_install,default-jre-headless); }

$(VNU_JAR):
	@command -v npm >/dev/null || { $(call apt_install,npm); }
	@mkdir -p $(@D) && cd $(@D) && rm -rf package vnu-*.jar && \
	  npm pack --silent --loglevel=error vnu-jar@$(VNU_VERSION) >/dev/null && \
	  tar -xzf vnu-jar-$(VNU_VERSION).tgz package/build/dist/vnu.jar && \
	  mv package/build/dist/vnu.jar $(@F) && touch $(@F) && rm -rf package vnu-jar-$(VNU_VERSION).tgz

# The broker-loss test (tests/treatments/test_reminder_workers.py) SIGKILLs a redis-server of
# its own on a free port: Debian's redis-server, installed when missing and we may.
redis:
	@command -v redis-server >/dev/null || { $(call apt_install,redis-server); }

# The continuation-evidence PDF's tests (tests/treatments/test_evidence.py) read its text with
# Debian's pdftotext (poppler-utils), installed when missing and we may.
pdftotext:
	@command -v pdftotext >/dev/null || { $(call apt_install,poppler-utils); }

# Tests publish to a broker folder of their own: what they leave there must never reach the
# worker of `make run`, which would then spend minutes on stale messages before its own.
# pytest-xdist runs them on every core (TEST_WORKERS=0 for one process), each worker with a
# test database of its own; worksteal evens out the few long tests.
TEST_WORKERS ?= auto
test: install chromium vnu redis pdftotext
	BROKER_DIR=$(CURDIR)/var/test-broker $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# The reminders benchmark (tests/bench/README.md): its own throwaway database and queue.
bench: install
	$(BIN)/python tests/bench/bench_reminders.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy clinic audit patients treatments

check: install
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check

clean:
	rm -rf var/static var/broker var/test-broker var/test.sqlite3*
