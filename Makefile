# epfs — make targets. `make test` is the test command the README gives and
# .ci/run calls; `make run` is the README's serve command.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 15s
BENCHTIME   ?= 1s
BIN         ?= bin/epfs
DIST        ?= dist
# The version stamped into the binary (epfs --version): the nearest tag,
# the commits since and the commit, "-dirty" with uncommitted changes; from
# a tree without git, what the Go toolchain recorded (see versionString).
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS     := $(if $(VERSION),-X main.version=$(VERSION))

# PKGS and TEST_FLAGS narrow test and test-busy: make test-busy PKGS=./tests/
# TEST_FLAGS='-run Shutdown -count=20'.
PKGS       ?= ./...
TEST_FLAGS ?=

.PHONY: all build release man run test race allocs test-busy test-browser lint bench bench-peers study soak fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/epfs

# Static release binaries (no cgo: no libc, runs on any Linux of the
# architecture; -trimpath: no build paths inside), version stamped, with
# SHA-256 sums, the man page and the completion scripts, in $(DIST).
RELEASE_ARCHS ?= amd64 arm64
release:
	@set -e; mkdir -p $(DIST); rm -f $(DIST)/SHA256SUMS; \
	for arch in $(RELEASE_ARCHS); do \
	  echo "== linux/$$arch"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath \
	    -ldflags "-s -w $(LDFLAGS)" -o $(DIST)/epfs-linux-$$arch ./cmd/epfs; \
	done; \
	host=$$(mktemp -d); CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $$host/epfs ./cmd/epfs; \
	$$host/epfs man > $(DIST)/epfs.1; \
	for sh in bash zsh fish; do $$host/epfs completion $$sh > $(DIST)/epfs.$$sh; done; \
	rm -r $$host; \
	cd $(DIST) && sha256sum $$(for a in $(RELEASE_ARCHS); do echo epfs-linux-$$a; done) epfs.1 epfs.bash epfs.zsh epfs.fish > SHA256SUMS; \
	cat SHA256SUMS

# The man page alone, generated from the command definitions.
man: build
	./$(BIN) man > epfs.1

# `make run` serves the demo root on 127.0.0.1:8080.
run: build
	@echo "epfs: serving cmd/epfs/demo on http://127.0.0.1:8080/"
	@echo "epfs: syscall counters on http://127.0.0.1:9090/metrics"
	./$(BIN) serve --root cmd/epfs/demo --listen 127.0.0.1:8080 --autoindex \
		--admin-listen 127.0.0.1:9090 --log-format console

lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# test runs lint and the race-detector tests side by side: on a fresh
# machine lint's first build of staticcheck and vet is minutes of CPU, and
# the black-box tests spend much of theirs waiting on the server, so the
# two overlap instead of adding up. Lint prints nothing when clean; either
# failing fails the target.
test:
	@$(MAKE) --no-print-directory -j2 lint race allocs

# race is the tests under the race detector alone (make test without lint).
race:
	$(GO) test -race -count=1 -timeout 9m $(TEST_FLAGS) $(PKGS)

# allocs is the allocation tests, which the race detector's own
# allocations would fail and which are therefore built with !race: 0
# allocations per request in the parser, the counters, the index's hit,
# transmit's Plan and Step, and the server's steady state. make test runs
# them beside race, in a build of their own.
ALLOC_PKGS := ./poller/syscount ./fsindex ./transmit ./httpparse ./cmd/epfs/internal/server
allocs:
	$(GO) test -count=1 -timeout 5m -run 'Alloc|Allocate|NoAllocations' $(ALLOC_PKGS)

# The same tests while one CPU hog per core (plain shell busy loops, started
# here and stopped by PID when the tests end, however they end) keeps the
# machine busy: how a change is checked for depending on having the machine
# alone. Not part of test; its timeout allows for the slower run.
test-busy:
	@pids=""; for i in $$(seq $$(nproc)); do sh -c 'while :; do :; done' & pids="$$pids $$!"; done; \
	trap 'kill $$pids' EXIT INT TERM; \
	echo "test-busy: $$(nproc) CPU hogs:$$pids"; \
	$(GO) test -race -count=1 -timeout 30m $(TEST_FLAGS) $(PKGS)

# The listing in a real browser (tests/browser_test.go, TestBrowserListing):
# installs Debian's chromium package when no chromium is on PATH (apt-get,
# as root), renders a listing of odd names headless, checks the DOM
# Chromium built (order, escaping) and writes screenshots at a phone's and
# a desktop's width into SHOTS, which it prints. Not part of test; .ci/run
# runs it after test.
SHOTS ?= $(CURDIR)/bin/browser
test-browser:
	@set -e; b="$$(command -v chromium || true)"; \
	if [ -z "$$b" ]; then \
	  echo "test-browser: installing chromium from Debian's packages"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q; apt-get install -y -q chromium; \
	  b="$$(command -v chromium)"; \
	fi; \
	$(GO) test -count=1 -run '^TestBrowserListing$$' -v ./tests/ -browser "$$b" -shots "$(SHOTS)"; \
	echo "test-browser: screenshots in $(SHOTS)"

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# epfs against nginx, net/http, fasthttp and the ceiling responder, one core
# each (tests/benchpeers; docs/BENCHMARKS.md). About 30 minutes with the
# defaults; BENCH_FLAGS=-quick is a three-minute smoke run. Not part of test.
BENCH_FLAGS ?=
bench-peers:
	$(GO) run ./tests/benchpeers $(BENCH_FLAGS)

# The syscall study behind docs/SYSCALLS.md: rewrites its tables and the
# charts in docs/syscalls/ (about 2.5 minutes), the runtime-cost table
# included (the ceiling responders of ../shared/ceiling and epfs, pinned,
# under wrk and perf: it needs wrk, perf, gcc and taskset, and stops at
# once naming them if they are missing; STUDY_FLAGS=-runtime=false leaves
# it out). STUDY_FLAGS=-quick is about 15 s into a temp dir, for checking
# the study itself (it skips the runtime part, saying so, without the
# tools). Not part of test, nor of .ci/run.
STUDY_FLAGS ?=
study: build
	$(GO) run ./tests/study -epfs $(BIN) $(STUDY_FLAGS)

# The mixed soak (tests/soak_test.go) for SOAKTIME against the built
# binary: many clients, every kind of request, aborts and malformed input;
# zero wrong answers, fds equal and RSS within max(2 MiB, 10 %) from after
# the warm-up to the end, and, once the paused server has gone quiet and
# returned its free memory, RSS within 10 % of the post-warm-up value.
# `make test` runs it for 10 s. No -race here: the
# detector would only slow the clients (the server is a separate binary).
SOAKTIME ?= 60s
soak:
	$(GO) test -count=1 -run '^TestSoak$$' -v -timeout 30m ./tests/ -soak $(SOAKTIME)

# Every fuzz target in every package, each for FUZZTIME. A target fails on
# a failing input (written to its testdata/fuzz directory) or any other
# error, with one exception: Go 1.26's fuzz coordinator can report its own
# -fuzztime deadline as "context deadline exceeded" when a worker is mid-
# call as the time runs out on a loaded machine (golang.org/issue/75804,
# fixed in Go 1.27). That outcome, with no failing input written, is said
# and counted as a pass.
fuzz:
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    corpus="$$dir/testdata/fuzz/$$f"; before=$$(ls "$$corpus" 2>/dev/null | wc -l); \
	    rc=0; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg >$$log 2>&1 || rc=$$?; \
	    cat $$log; \
	    [ $$rc -eq 0 ] && continue; \
	    after=$$(ls "$$corpus" 2>/dev/null | wc -l); \
	    if [ "$$after" -eq "$$before" ] && grep -qx '    context deadline exceeded' $$log && ! grep -q 'Failing input' $$log; then \
	      echo "== $$f: the coordinator's own deadline (golang.org/issue/75804), no failing input: passed"; \
	    else exit $$rc; fi; \
	  done; \
	done

clean:
	rm -rf bin $(DIST) epfs.1
