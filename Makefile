# tarsup: build, test, bench, lint. `make test` runs the unit tests and the
# end-to-end tests against a real Docker Engine; it starts dockerd if none
# answers and fails loudly if there is still none. It never skips them.
GO       ?= go
BIN      := bin/tarsup
E2E_TIMEOUT ?= 60m

.PHONY: build test unit e2e bench lint engine clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN) ./cmd/tarsup

test: lint unit e2e

unit:
	$(GO) test -count=1 ./...

engine:
	@bash tests/ensure-docker.sh

e2e: engine
	$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -v ./tests/

bench: engine
	$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -run '^$$' -bench . -benchtime 1x ./tests/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./tests/...

clean:
	rm -rf bin
