# keydesk: `make demo` shows the main job on a fresh inventory; `make test`
# runs every test. Both install what they need when run as root.

GO      ?= go
BIN     := bin/keydesk
PREFIX  ?= /usr/local
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# The version make build stamps into keydesk (keydesk --version): git's
# name for the tree. Without git, or outside a clone, it is left out and
# keydesk reports its module's version, or "devel".
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := $(if $(VERSION),-X main.version=$(VERSION))
# Debian packages the build and the tests need: cgo for SQLite and libusb,
# the reference tools the tests check keydesk against (oathtool, radclient,
# python3-fido2, pskc-utils' csv2pskc and pskc2csv), OpenLDAP (slapd,
# ldap-utils) for the directory tests, which start their own slapd,
# PostgreSQL for the shared store's tests, which start their own cluster,
# Chromium for the browser tests of the portal and WebAuthn, and zbar-tools
# (zbarimg) to read back the QR code the portal draws.
DEB_DEPS := gcc libc6-dev pkg-config libusb-1.0-0-dev oathtool sqlite3 freeradius-utils time slapd ldap-utils python3-fido2 pskc-utils postgresql chromium zbar-tools
FUZZTIME ?= 10s

.PHONY: all build deps demo test test-short bench fuzz man install clean

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
	CGO_ENABLED=1 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/keydesk

# The man page, made by keydesk itself from its commands (keydesk man).
man: build
	@mkdir -p build
	./$(BIN) man > build/keydesk.1.tmp && mv build/keydesk.1.tmp build/keydesk.1

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

# The binary, its man page and its shell completions. The systemd unit,
# its user and an example config are in contrib/ (see keydesk.service).
install: build man
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/keydesk
	install -D -m 0644 build/keydesk.1 $(DESTDIR)$(MANDIR)/man1/keydesk.1
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	./$(BIN) completion bash > $(DESTDIR)$(BASHCOMPDIR)/keydesk
	./$(BIN) completion zsh > $(DESTDIR)$(ZSHCOMPDIR)/_keydesk
	./$(BIN) completion fish > $(DESTDIR)$(FISHCOMPDIR)/keydesk.fish

clean:
	rm -rf bin build

include lab/usblab.mk
