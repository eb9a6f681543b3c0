# keydesk: `make demo` shows the main job on a fresh inventory; `make test`
# runs every test. Both install what they need when run as root.

GO      ?= go
BIN     := bin/keydesk
PREFIX  ?= /usr/local
# Debian packages the build and the tests need: cgo for SQLite and libusb,
# the reference tools the tests check keydesk against (oathtool, radclient,
# python3-fido2, pskc-utils' csv2pskc and pskc2csv), OpenLDAP (slapd,
# ldap-utils) for the directory tests, which start their own slapd,
# PostgreSQL for the shared store's tests, which start their own cluster,
# Chromium for the browser tests of the portal and WebAuthn, and zbar-tools
# (zbarimg) to read back the QR code the portal draws.
DEB_DEPS := gcc libc6-dev pkg-config libusb-1.0-0-dev oathtool sqlite3 freeradius-utils time slapd ldap-utils python3-fido2 pskc-utils postgresql chromium zbar-tools
FUZZTIME ?= 10s

.PHONY: all build deps demo test test-short bench fuzz install clean

all: build

deps:
	@missing=""; for p in $(DEB_DEPS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "keydesk needs these Debian packages: sudo apt-get install$$missing"; exit 1; \
		fi; \
	fi

build: deps
	CGO_ENABLED=1 $(GO) build -o $(BIN) ./cmd/keydesk

demo: build
	./scripts/demo.sh $(BIN)

test: deps
	CGO_ENABLED=1 $(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...
	# The suites of everything that stores, again with every inventory in
	# a database of a throw-away PostgreSQL cluster (internal/pgtest).
	KEYDESK_TEST_STORE=postgres CGO_ENABLED=1 $(GO) test -race -count=1 ./inventory/... ./verify/... ./desk/... ./server/... ./cmd/keydesk/...
	$(MAKE) --no-print-directory usblab

test-short: deps
	CGO_ENABLED=1 $(GO) test -count=1 ./...

bench: build
	./scripts/bench.sh

# A short run of every fuzz target, FUZZTIME each.
fuzz: deps
	./scripts/fuzz.sh $(FUZZTIME)

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/keydesk

clean:
	rm -rf bin build

include lab/usblab.mk
