# kubectl-fed — developer entry points. `make test` is what CI runs (via .ci/run).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
E2E_THREADS ?= 8

.PHONY: all build lint fmt test test-unit test-e2e manifests cluster-up cluster-down \
        federation-up federation-down demo bench bench-webhook bench-propagation bench-peer bench-scale bench-shards test-faults \
        fuzz fuzz-smoke

all: build

build:
	$(CARGO) build --workspace --bins

## lint: rustfmt and clippy with warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml

## test: unit tests, then end-to-end tests on the local test bed (built and started as needed)
test: build test-unit test-e2e

test-unit:
	$(CARGO) test --workspace --exclude fed-e2e

test-e2e: build
	$(CARGO) test -p fed-e2e -- --test-threads=$(E2E_THREADS)
	$(CARGO) test -p fed-e2e --test audit -- --ignored

## test-faults: fault scenarios on the test bed (member apiserver/etcd, webhook, controllers,
## leader killed) under load; prints a table and fails on any lost or extra object
test-faults: build
	hack/test-faults.sh

## manifests: regenerate manifests/crds from the Rust types
manifests:
	$(CARGO) run -q -p fed-core --bin fed-crdgen -- --out-dir manifests/crds

cluster-up:
	hack/cluster-up.sh

cluster-down:
	FED_HOST_MODE=local hack/federation-down.sh
	hack/cluster-down.sh

federation-up: build
	hack/federation-up.sh

federation-down:
	hack/federation-down.sh

demo: build
	hack/demo.sh

bench: bench-webhook bench-propagation

bench-webhook:
	hack/bench-webhook.sh

bench-propagation:
	hack/bench-propagation.sh

## bench-peer: KubeFed v0.10.0 and kubectl-fed on KubeFed's own workload, same bed, one run
## (starts from a fresh bed; builds KubeFed once into ~/.cache/kubectl-fed)
bench-peer:
	hack/bench-peer.sh

## bench-scale: N = 3, 6, 12, 24 member clusters (extra light control planes beside the bed's
## three): convergence against the floor, controller RSS and idle CPU per member
bench-scale:
	FED_BENCH_PLOT=1 hack/bench-scale.sh

## bench-shards: the 1,000-member sharding design, simulated (docs/ARCHITECTURE.md)
bench-shards:
	$(CARGO) run -q --release -p fed-bench -- shards

## fuzz: every cargo-fuzz target to 10M executions (FED_FUZZ_RUNS); table in .local/fuzz/summary.txt
fuzz:
	hack/fuzz.sh run

## fuzz-smoke: every cargo-fuzz target for 15 s (FED_FUZZ_SMOKE_SECONDS); CI runs it
fuzz-smoke:
	hack/fuzz.sh smoke
