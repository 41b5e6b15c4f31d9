# Everything a fresh machine needs: `make sandbox` and `make test` create the virtualenv themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TOOLS := .tools/bin
export PATH := $(CURDIR)/$(TOOLS):$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: all venv tools test lint sandbox crds chart-schema trimmed-models bench bench-scale chaos clean

all: test

venv: $(VENV)/.installed

# The operator with its dev tools, and the sandbox (emulator + simulator), its own distribution in sandbox/.
$(VENV)/.installed: pyproject.toml sandbox/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' -e ./sandbox
	touch $@

tools: $(TOOLS)/kubectl

$(TOOLS)/kubectl: tools/fetch_kube_tools.py | venv
	$(PY) tools/fetch_kube_tools.py $(TOOLS)

test: venv tools
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check operator sandbox tests benchmarks tools deploy
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

sandbox: venv tools
	$(VENV)/bin/lambda-vpc-operator sandbox $(ARGS)

crds: venv
	$(VENV)/bin/lambda-vpc-operator crd --output-dir crds
	rm -f charts/lambda-vpc-operator/crds/*.yaml && cp crds/*.yaml charts/lambda-vpc-operator/crds/

# The Kubernetes schemas values.schema.json borrows (resources, affinity, env, security contexts).
chart-schema: venv
	$(PY) deploy/values_schema_definitions.py

# botocore's models cut to the operations we send (aws/trimmed_models.py), after a botocore upgrade.
trimmed-models: venv
	$(PY) -c "from lambda_vpc_operator.aws import trimmed_models; print(*trimmed_models.write(), sep='\n')"

# Convergence speed, AWS calls and memory (docs/benchmarks.md); N=attachments.
N ?= 200
bench: venv
	$(PY) benchmarks/converge.py --attachments $(N)

# This operator beside per-object polling and the lower bound at several N, with a plot (docs/benchmarks.md).
SIZES ?= 100,1000,5000
bench-scale: venv
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/scale.py --sizes $(SIZES) --output docs/benchmarks-scale.json --plot docs/benchmarks-scale.png $(ARGS)

# The full chaos run (docs/reliability.md): ARGS for size and seed, e.g. ARGS="--attachments 300 --seed 2".
chaos: venv tools
	$(PY) tests/chaos/chaos_run.py --attachments 200 --kills 50 --seed 1 --dir .sandbox/chaos --output .sandbox/chaos/summary.json $(ARGS)

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
