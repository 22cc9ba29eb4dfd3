# roomkeeper developer entry points. `make help` lists them.

SHELL := /bin/bash
GO ?= go

## Pinned tools, installed into a cache outside the checkout keyed by version,
## so a fresh clone (CI) reuses them.
CACHE_DIR ?= $(HOME)/.cache/roomkeeper
LIVEKIT_VERSION := v1.13.5
LIVEKIT_SERVER_BIN := $(CACHE_DIR)/livekit-server-$(LIVEKIT_VERSION)/server
GOLANGCI_VERSION := v2.6.2
export LIVEKIT_SERVER_BIN

DATA_DIR ?= ./data
TEST_TIMEOUT ?= 18m
FUZZTIME ?= 10s
BENCH_COLUMN ?= after2

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@grep -hE '^[a-zA-Z_/-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

## What --version prints: the release tag at HEAD (else "devel") and the
## commit, "-dirty" when the checkout has changes.
VERSION ?= $(shell git describe --tags --exact-match 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell test -n "$$(git status --porcelain 2>/dev/null)" && echo -dirty)
BUILDINFO := github.com/roomkeeper/roomkeeper/internal/buildinfo
LDFLAGS := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT)

.PHONY: build
build: ## Build roomkeeper and roomctl into ./bin, with the version and commit --version prints.
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/roomkeeper ./cmd/roomctl

## run builds first and then execs the binary (not `go run`, whose child
## outlived a SIGTERM to make and kept the ports): make passes a SIGTERM on
## to roomkeeper, which shuts down in order, and make exits with it.
.PHONY: run
run: ## Build, then run every role in one process on the embedded engines (NATS, SQLite) under $(DATA_DIR).
	@echo "compiling bin/roomkeeper (the first build compiles every dependency: minutes on a small machine)"
	@$(GO) build -ldflags "$(LDFLAGS)" -o bin/roomkeeper ./cmd/roomkeeper
	exec ./bin/roomkeeper serve --data-dir $(DATA_DIR)

.PHONY: test
test: livekit-server ## Run all tests against real servers, with the race detector.
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

.PHONY: test/short
test/short: ## Run the tests that need no livekit-server binary.
	$(GO) test -race -count=1 -short ./...

.PHONY: screenshots
screenshots: ## Retake the web console's screenshots (docs/console-*.png) in a headless Chromium.
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run TestBrowser ./console

## The nemesis (internal/nemesis): a seeded random schedule of faults (kill -9,
## SIGSTOP past AckWait, NATS node loss, rolling NATS restart, store outage,
## livekit-server kill -9) under a seeded random load against roomkeeper
## processes on a 3-node JetStream cluster with a livekit-server, then the
## invariant checker. NEMESIS_SEED replays a run (default: a random
## seed, printed); `make test` runs a short version (20 s per seed).
## NEMESIS_STORE=mongo runs it on the MongoDB wire protocol (a FerretDB
## process, one worker, a lighter load; the store faults kill FerretDB).
NEMESIS_DURATION ?= 5m
NEMESIS_SEED ?= $(shell echo $$(( $$RANDOM * 32768 + $$RANDOM )))
NEMESIS_STORE ?= sqlite

.PHONY: nemesis
nemesis: livekit-server ## Run the nemesis for NEMESIS_DURATION (default 5m) with NEMESIS_SEED (default random); prints "nemesis: seed S, N commands, F faults, V violations".
	NEMESIS_SEED=$(NEMESIS_SEED) NEMESIS_DURATION=$(NEMESIS_DURATION) NEMESIS_STORE=$(NEMESIS_STORE) $(GO) test -count=1 -v -timeout 40m -run '^TestNemesis$$' ./internal/nemesis

## Fuzz targets as package:Name, each run for $(FUZZTIME) in turn: a
## duration (10s) or a count of executions (3000x, what CI uses: a duration
## can end a Go 1.26 fuzz run with a spurious "context deadline exceeded",
## golang/go#75804).
FUZZ_TARGETS := \
	./workers:FuzzDecodeCommand \
	./workers:FuzzQuery \
	./workers:FuzzMaxItems \
	./schemas:FuzzValidateQuery \
	./schemas:FuzzValidateCommand \
	./webhooks:FuzzReceiver \
	./store/sqlite:FuzzDecodeOutbox

.PHONY: fuzz
fuzz: ## Run every fuzz target for $(FUZZTIME) (default 10s) after its committed seed corpus.
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

.PHONY: bench
bench: livekit-server ## Run the benchmarks and print their figures.
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./...

.PHONY: bench-figures
bench-figures: ## Measure BENCHMARKS.md's figures into docs/bench.json, column BENCH_COLUMN (default after2), and draw docs/bench-*.png (~5 min).
	$(GO) test -run '^$$' -bench . -benchtime 2x -timeout 20m ./internal/benchkit -figures $(CURDIR)/docs/bench.json -column $(BENCH_COLUMN)
	@mkdir -p $(CACHE_DIR)
	$(GO) test -run '^$$' -bench Ingest -benchtime 3x -timeout 10m ./webhooks | tee $(CACHE_DIR)/bench-ingest.txt
	$(GO) run ./internal/benchkit/cmd/charts -figures docs/bench.json -out docs -ingest $(CACHE_DIR)/bench-ingest.txt -column $(BENCH_COLUMN)

.PHONY: bench-charts
bench-charts: ## Draw docs/bench-latency.png and docs/bench-scaling.png from docs/bench.json.
	$(GO) run ./internal/benchkit/cmd/charts -figures docs/bench.json -out docs

.PHONY: lint
lint: ## gofmt, go vet and golangci-lint with .golangci.yml (installed pinned when missing).
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	@if ! test -x $(CACHE_DIR)/golangci-lint-$(GOLANGCI_VERSION)/golangci-lint; then \
		GOBIN=$(CACHE_DIR)/golangci-lint-$(GOLANGCI_VERSION) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION) || echo "golangci-lint not installable here; gofmt and vet passed"; fi
	@if test -x $(CACHE_DIR)/golangci-lint-$(GOLANGCI_VERSION)/golangci-lint; then $(CACHE_DIR)/golangci-lint-$(GOLANGCI_VERSION)/golangci-lint run --config .golangci.yml ./...; fi


.PHONY: livekit-server
livekit-server: $(LIVEKIT_SERVER_BIN) ## Install livekit-server $(LIVEKIT_VERSION) (pinned) into the cache.

$(LIVEKIT_SERVER_BIN):
	@echo "installing livekit-server $(LIVEKIT_VERSION) into $(dir $@) (a few minutes the first time)"
	@mkdir -p $(dir $@)
	cd $(dir $@) && GOBIN=$(dir $@) GOFLAGS=-mod=mod $(GO) install github.com/livekit/livekit-server/cmd/server@$(LIVEKIT_VERSION)

.PHONY: clean
clean: ## Remove build output and the local data directory.
	rm -rf bin $(DATA_DIR)
