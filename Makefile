# pgbench-ha: the common tasks. `make help` lists them.
GO        ?= go
BIN       := bin/pgbench-ha
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
SCENARIO  ?= scenarios/sync-vs-async.yaml
OUT       ?= results

.PHONY: help setup image build run test test-container test-short bench soak fuzz vet clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

setup: ## install the PostgreSQL server binaries if missing (Debian/Ubuntu, as root)
	@bash scripts/setup.sh

PG        ?= 15

image: ## build pgbench-ha/postgres:15 (PG=17: :17, from trixie) for the docker backend (Debian packages, no registry; root)
	@PG_MAJOR=$(PG) bash scripts/image.sh

build: ## build bin/pgbench-ha
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/pgbench-ha

run: setup build ## run the flagship scenario (SCENARIO=..., OUT=...)
	./$(BIN) run --out $(OUT) $(SCENARIO)

test: setup ## run every test, integration tests on real clusters included
	@if docker info >/dev/null 2>&1; then bash scripts/image.sh; \
	else echo "test: no docker daemon: the docker backend's tests will be skipped"; fi
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

test-container: image ## make test in a CI-like job container: no init, default capabilities; none left behind
	@bash scripts/container-test.sh

test-short: ## unit tests only (no PostgreSQL needed)
	$(GO) test -count=1 -short ./...

bench: setup ## writer vs pgbench TPS, bring-up vs by hand, probe overhead
	bash bench/run.sh

DURATION ?= 30m

soak: setup build ## a long steady run (DURATION=30m): peak memory, result size, render time per million writes
	DURATION=$(DURATION) BIN=$(BIN) bash bench/soak.sh

# The fuzz targets, package:target: one for every decoder of outside
# input (scenario files, result.json, baselines, encoded histograms).
FUZZ_TARGETS := scenario:FuzzParse result:FuzzDecode verdict:FuzzDecodeSet report:FuzzDecodeHistogram
FUZZTIME     ?= 60s

fuzz: ## run every fuzz target, FUZZTIME (60s) each
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $${t#*:} in ./$${t%%:*}/"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./$${t%%:*}/; \
	done

vet: ## go vet and gofmt
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }

clean: ## remove the binary (results/ is kept)
	rm -rf bin

# Nightly CI: the nightly scenarios, each compared with its committed
# baseline (scripts/nightly.sh; results/baselines/README.md says how a
# baseline is made and refreshed).
NIGHTLY_OUT ?= results/nightly

.PHONY: nightly
nightly: setup build ## run the nightly scenarios and compare with results/baselines/ (NIGHTLY_OUT=...)
	NIGHTLY_OUT=$(NIGHTLY_OUT) BIN=$(BIN) bash scripts/nightly.sh
