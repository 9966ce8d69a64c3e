# The two commands: `make run` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PORT ?= 8000

.PHONY: run test install lint trust clean bench

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

install: $(VENV)/.installed

# First run only: generate the secrets a fresh install needs; edit .env to connect real numbers.
# Secrets are readable by you only: .env and the SQLite database 0600, var/ 0700.
.env:
	@umask 077 && $(PYTHON) -c "import secrets as s; print(f'SECRET_KEY={s.token_urlsafe(50)}\nWHATSAPP_APP_SECRET={s.token_hex(16)}\nWHATSAPP_VERIFY_TOKEN={s.token_urlsafe(16)}\nGATEKEEPER_PASSWORD={s.token_urlsafe(12)}')" > .env
	@echo "Wrote .env with generated secrets and the owner's password (edit it to connect WhatsApp)."

run: install .env
	@mkdir -p -m 700 var
	umask 077 && $(PY) manage.py migrate --noinput
	$(PY) manage.py serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The trust evaluation prints its table by class; a dangerous send fails the run (TRUST.md).
trust: install
	DJANGO_SETTINGS_MODULE=gatekeeper_site.test_settings $(PY) manage.py trust_eval

test: lint trust
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) var

# Measure the production stack on loopback (PostgreSQL db gk_bench and Redis db 5 on this machine, load
# from wrk, installed with apt-get if missing): writes BENCHMARKS.md and bench/results/. At most about
# 20 minutes; BENCH_QUICK=1 runs every phase small and short (a few minutes), to check the harness.
bench: install
	$(PY) -m bench.run
