# One entry point for people, git hooks and CI. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export BH_PRICING_HOME ?= $(CURDIR)/.bh_pricing
export DAGSTER_HOME ?= $(BH_PRICING_HOME)/dagster
# make serve: where uvicorn listens
SERVE_HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: help install run dev test lint format bench mlflow-ui serve dagster-home

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install:  ## create .venv and install bh-pricing with its dev extras
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"

dagster-home:
	@mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

run: dagster-home  ## materialize the whole graph headless on the embedded defaults, then summarize
	$(BIN)/dagster job execute -m bh_pricing.definitions -j build_graph
	$(BIN)/python -m bh_pricing.lifecycle.summary

dev: dagster-home  ## open the Dagster UI (http://127.0.0.1:3000, PORT=... to change) with sensors
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(or $(PORT),3000)

test:  ## run the whole test suite (what CI runs)
	$(BIN)/python -m pytest -n auto --dist loadscope --no-loadscope-reorder

lint:  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench:  ## run every benchmark (RAW=path/to/kaggle.csv to use the real file)
	$(BIN)/python benchmarks/model_quality.py $(if $(RAW),--raw $(RAW))
	$(BIN)/python benchmarks/pipeline_time.py $(if $(RAW),--raw $(RAW))
	$(BIN)/python benchmarks/drift_power.py $(if $(RAW),--raw $(RAW))
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/retraining_latency.py

mlflow-ui:  ## browse the local MLflow store (http://127.0.0.1:5000, PORT=... to change)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(BH_PRICING_HOME)/mlflow/mlflow.db \
		--host 127.0.0.1 --port $(or $(PORT),5000)

serve:  ## serve the published bundle on http://$(SERVE_HOST):$(PORT) (uvicorn; PORT=8081 to move it)
	BH_PRICING_MODEL_URI="$${BH_PRICING_MODEL_URI:-$(BH_PRICING_HOME)/artifacts/bundles}" \
	BH_PRICING_PREDICTION_LOG_URI="$${BH_PRICING_PREDICTION_LOG_URI:-$(BH_PRICING_HOME)/prediction-log}" \
	exec $(BIN)/uvicorn --factory bh_pricing.serving.api:create_app --host $(SERVE_HOST) --port $(PORT) \
		--timeout-graceful-shutdown 10
