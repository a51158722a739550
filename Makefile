# tarsup: build, test, bench, lint, demo. `make test` runs the unit tests and
# the end-to-end tests against a real Docker Engine; it starts dockerd if none
# answers and fails loudly if there is still none. It never skips them.
# `make demo` lays out a lab of stand-in Tars images on the local engine and
# runs tarsup against it (tests/demo); `make demo-down` removes that lab.
GO       ?= go
BIN      := bin/tarsup
E2E_TIMEOUT ?= 60m
# -parallel 64: more than all the tests that call bed.Parallel, so that one
# waiting for its engine's turn holds back no test of another engine;
# bed.Parallel itself runs at most testbed.ParallelTests at once.

.PHONY: build test unit e2e bench lint engine clean demo demo-down

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN) ./cmd/tarsup

test: lint unit e2e

unit:
	$(GO) test -count=1 ./...

engine:
	@bash tests/ensure-docker.sh

e2e: engine
	$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -parallel 64 -v ./tests/

# -v: without it the testing package cuts each benchmark's log to ten lines.
bench: engine
	$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -run '^$$' -bench . -benchtime 1x -v ./tests/

demo: engine build
	$(GO) run ./tests/demo -tarsup $(BIN) up

demo-down: engine
	$(GO) run ./tests/demo down

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./tests/...

clean:
	rm -rf bin
