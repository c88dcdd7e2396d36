# Shortcuts; each target is one command you can also type yourself (see README.md).
PY := .venv/bin/python
export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: env demo test ui lint bench

env:
	python3 -m venv .venv && .venv/bin/pip install -q -e ".[dev]"

demo: env
	.venv/bin/huracan daily --date 2025-11-20 --coins 12 --lookback-days 60

test:
	./.ci/run

ui: env
	HURACAN_LOOKBACK_DAYS=60 HURACAN_SIMULATOR__N_COINS=12 .venv/bin/dagster dev -w workspace.yaml

lint: env
	.venv/bin/ruff check huracan_assets huracan_assets_tests && .venv/bin/ruff format --check huracan_assets huracan_assets_tests

bench: env
	$(PY) -m huracan_assets_tests.benchmarks.bench_daily
