# nodeagent: build, test, plan. `make help` lists the targets.
# One version everywhere: `nodeagent version` prints the package's.
# Debian versions must start with a digit; a tag like v1.2.3 gives 1.2.3,
# an untagged commit 0.1.0+git<commits>.g<hash>.
DEB_VERSION ?= $(shell git describe --tags --exact-match 2>/dev/null | sed 's/^v//' || true)
ifeq ($(DEB_VERSION),)
DEB_VERSION := 0.1.0+git$(shell git rev-list --count HEAD 2>/dev/null || echo 0).g$(shell git rev-parse --short HEAD 2>/dev/null || echo 0)
endif
VERSION ?= $(DEB_VERSION)
LDFLAGS := -s -w -X main.version=$(VERSION)
GO ?= go
BIN := bin

.PHONY: help build build-arm64 build-amd64 test test-as-root deps test-unit plan lint staticcheck fuzz bench tools deb clean

help:
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# nodeagent is the command line; nodeagentd the resident daemon that
# `nodeagent run` hands over to (see cmd/nodeagentd).
build: ## build nodeagent and nodeagentd for this machine into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/nodeagent ./cmd/nodeagentd

build-arm64: ## cross-build the Raspberry Pi binaries into bin/linux-arm64/
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-arm64/ ./cmd/nodeagent ./cmd/nodeagentd

build-amd64:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-amd64/ ./cmd/nodeagent ./cmd/nodeagentd

deb: build-arm64 build-amd64 ## build bin/nodeagent_<version>_{arm64,amd64}.deb
	packaging/build-deb.sh $(DEB_VERSION) arm64 $(BIN)/linux-arm64 $(BIN)
	packaging/build-deb.sh $(DEB_VERSION) amd64 $(BIN)/linux-amd64 $(BIN)

plan: build ## print the full plan of every node of the built-in homelab
	$(BIN)/nodeagent plan

# The e2e runs on its own after the rest: its idle step measures the
# daemons' CPU, and the loop devices that other packages set up send block
# events that wake pi5's disk watch.
test: ## all tests, against real components; as root or with sudo, installs the Debian packages they need
	@./test/tools/as-root.sh $(MAKE) --no-print-directory test-as-root GO='$(GO)'

test-as-root: deps tools
	NODEAGENT_INTEGRATION=1 $(GO) test -count=1 -timeout 40m $$($(GO) list ./... | grep -v '/test/e2e$$')
	NODEAGENT_INTEGRATION=1 $(GO) test -count=1 -timeout 45m ./test/e2e/

deps: ## install the Debian packages the tests need, those missing only (needs root)
	./test/tools/install-debs.sh

test-unit: ## only the tests that need no root and no built tools
	$(GO) test -short -count=1 ./...

tools: deps ## build the slow test tools once, cached outside the repo by version
	./test/tools/build-kube-apiserver.sh
	./test/tools/build-k3s-standin.sh
	./test/tools/build-rootfs.sh
	$(GO) run ./test/tools/chart-crds

e2e: ## the four-Pi homelab end to end in nspawn containers (needs root, ~20 min)
	NODEAGENT_INTEGRATION=1 $(GO) test ./test/e2e/ -count=1 -v -timeout 45m

fuzz: ## fuzz the cluster file decoder for a minute
	$(GO) test ./internal/config/ -run '^$$' -fuzz FuzzParse -fuzztime 60s

# Every measurement that prints a figure: the Go benchmarks and the
# TestBench* tests (apply vs kubectl, plug-to-label, quorum detection,
# container boot), ending with one summary table (test/tools/benchtable).
# E2E=1 adds the end-to-end test's figures (clean join, rebuilds, idle).
BENCH_RUN := ^TestBench
ifeq ($(E2E),1)
BENCH_RUN := ^(TestBench|TestHomelab$$)
endif
bench: SHELL := /bin/bash
bench: tools ## every figure-printing measurement, then one summary table (E2E=1 adds the e2e's)
	set -o pipefail; NODEAGENT_INTEGRATION=1 NODEAGENT_BENCH=1 $(GO) test -run '$(BENCH_RUN)' -bench . -benchtime 1x \
		-count=1 -v -timeout 60m ./... 2>&1 | $(GO) run ./test/tools/benchtable

# staticcheck is pinned here and nowhere else; `make staticcheck` installs
# that version into $(go env GOPATH)/bin unless it is already there.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
# gofmt of the same Go as $(GO), whether or not its bin/ is on PATH.
GOFMT := $(shell $(GO) env GOROOT)/bin/gofmt
# No tracked file may be larger than this: build output (a 19.5 MB
# nodeagentd once was committed) and test caches belong outside the tree.
MAX_FILE_BYTES := 1048576

staticcheck: ## install the pinned staticcheck unless it is there
	@$(STATICCHECK) -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))' || \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: staticcheck ## gofmt, go vet, staticcheck, no tracked file over 1 MiB
	@big=$$(git ls-files -s | sed 's/^[0-7]* \([0-9a-f]*\) [0-9]*\t/\1 /' | \
		git cat-file --batch-check='%(objectsize) %(rest)' | awk '$$1 > $(MAX_FILE_BYTES)'); \
	if [ -n "$$big" ]; then echo "tracked files over $(MAX_FILE_BYTES) bytes (size, path):"; echo "$$big"; exit 1; fi
	@out=$$($(GOFMT) -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

clean:
	rm -rf $(BIN)
