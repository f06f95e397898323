# longmem — `make test` runs every test; `make serve` runs the service.
GO ?= go

.PHONY: test deps vet serve bench replay

# Every test, with the race detector. Redis-backed suites start their own
# redis-server on a free loopback port (installed by `make deps` when
# missing); the Qdrant contract suite runs only when QDRANT_ADDR is set.
test: deps vet
	$(GO) test -race -count=1 -timeout 20m ./...
	@if [ -z "$$QDRANT_ADDR" ]; then echo "note: retrieval/qdrant contract suite SKIPPED: QDRANT_ADDR is not set (no Qdrant server here); its request building is unit-tested"; fi

# redis-server and redis-cli for the Redis store tests (Debian/Ubuntu).
deps:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing redis-server (Debian package)"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null; \
	  else \
	    echo "redis-server is missing: install it (e.g. sudo apt-get install redis-server) or the Redis tests skip"; \
	  fi; }
	@command -v chromium >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium (Debian package) for the web page's browser tests"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: install it (e.g. sudo apt-get install chromium) or the browser tests of api/ui_test.go skip"; \
	  fi; }
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing nodejs and npm (Debian packages) for the official JavaScript client test"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else \
	    echo "node/npm are missing: install them or api/openai_jsclient_test.go skips (it fails under CI=true)"; \
	  fi; }
	@if command -v npm >/dev/null && [ ! -d api/testdata/openai-js/node_modules/openai ]; then \
	  echo "installing the official OpenAI JavaScript client for api/openai_jsclient_test.go (npm ci)"; \
	  npm ci --prefix api/testdata/openai-js --no-audit --no-fund --silent || echo "npm ci failed: the JavaScript client test will skip"; \
	fi

STATICCHECK_VERSION ?= v0.8.2
STATICCHECK = $(shell $(GO) env GOPATH)/bin/staticcheck

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@test -x $(STATICCHECK) || { echo "installing staticcheck $(STATICCHECK_VERSION) (Go module proxy)"; $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); }
	$(STATICCHECK) ./...

serve:
	$(GO) run ./cmd/longmem serve

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./memory/... ./api/ ./retrieval/ ./retrieval/embeddedindex/
