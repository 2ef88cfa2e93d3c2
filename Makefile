# Builds and installs mbctl for a host: one static binary (the Swift runtime linked in, so the
# host needs no Swift toolchain; it needs libcurl, libarchive and zlib), its man pages, shell
# completions for bash, zsh and fish, an example configuration file, and the systemd timer of
# unattended upgrades (mbctl-auto-update.timer, installed disabled).
#
#   make                      build into BUILDDIR (default build/)
#   make install              install under PREFIX (default /usr/local), staged under DESTDIR
#   make uninstall            remove what install put there (never the configuration file)
#   make format               format the sources as .swift-format says (scripts/test lints)
#   make dist                 a source tarball that builds offline: the tracked files, the
#                             resolved versions and the dependencies' sources
#
# The configuration file is installed only when there is none: `make install` never replaces
# an operator's /etc/mbctl/config.toml (the example is always at DOCDIR/config.toml).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/mbctl
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
BASH_COMPLETION_DIR ?= $(DATADIR)/bash-completion/completions
ZSH_COMPLETION_DIR ?= $(DATADIR)/zsh/site-functions
FISH_COMPLETION_DIR ?= $(DATADIR)/fish/vendor_completions.d
SYSTEMD_UNIT_DIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/systemd/system,$(PREFIX)/lib/systemd/system)

SWIFT ?= swift
STRIP ?= strip
INSTALL ?= install
# Where SwiftPM's release build lives, apart from the debug build of the tests.
SCRATCH ?= .build-release
# Every command that could wait runs under a deadline (seconds follow): it fails, saying so,
# instead of hanging a build.
DEADLINE ?= timeout --kill-after=10
# Where the installable files are put together.
BUILDDIR ?= build
VERSION = $(shell sed -n 's/.*current = "\(.*\)".*/\1/p' Sources/Man8S/MbctlVersion.swift)
DIST = mbctl-$(VERSION)

.PHONY: all binary man completions install uninstall dist clean format

all: $(BUILDDIR)/mbctl man completions

# The Swift runtime linked in; source paths in C assertions (BoringSSL's) written relative to
# the tree, so the binary does not depend on where it was built. Every product is built with
# the same flags, so that building one does not invalidate the other.
PREFIX_MAP = -ffile-prefix-map=$(CURDIR)/=
SWIFT_BUILD = $(SWIFT) build -c release --static-swift-stdlib --scratch-path $(SCRATCH) \
	-Xcc $(PREFIX_MAP) -Xcxx $(PREFIX_MAP)

binary:
	$(DEADLINE) 3600 $(SWIFT_BUILD) --product mbctl

$(BUILDDIR)/mbctl: binary
	mkdir -p $(BUILDDIR)
	cp $(SCRATCH)/release/mbctl $(BUILDDIR)/mbctl.new
	$(STRIP) $(BUILDDIR)/mbctl.new
	mv $(BUILDDIR)/mbctl.new $(BUILDDIR)/mbctl

# One page per command (mbctl.1, mbctl.machines.pull.1, ...), from the same text as --help, by
# mbctl-manual, which reads mbctl's help as JSON on its standard input and starts no process (so it
# works as nobody in a network namespace without loopback, where Foundation's Process may hang).
# The date is the last commit's, or SOURCE_DATE_EPOCH's, so that pages are reproducible.
MANUAL_DATE = $(shell date -u -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)} +%Y-%m-%d)
man: $(BUILDDIR)/mbctl
	$(DEADLINE) 3600 $(SWIFT_BUILD) --product mbctl-manual
	rm -rf $(BUILDDIR)/man && mkdir -p $(BUILDDIR)/man
	$(DEADLINE) 60 $(BUILDDIR)/mbctl --experimental-dump-help > $(BUILDDIR)/help.json
	$(DEADLINE) 60 $(SCRATCH)/release/mbctl-manual $(VERSION) $(MANUAL_DATE) $(BUILDDIR)/man < $(BUILDDIR)/help.json
	test -s $(BUILDDIR)/man/mbctl.1

completions: $(BUILDDIR)/mbctl
	rm -rf $(BUILDDIR)/completions && mkdir -p $(BUILDDIR)/completions
	$(DEADLINE) 60 $(BUILDDIR)/mbctl --generate-completion-script bash > $(BUILDDIR)/completions/mbctl.bash
	$(DEADLINE) 60 $(BUILDDIR)/mbctl --generate-completion-script zsh > $(BUILDDIR)/completions/_mbctl
	$(DEADLINE) 60 $(BUILDDIR)/mbctl --generate-completion-script fish > $(BUILDDIR)/completions/mbctl.fish

install: all
	$(INSTALL) -D -m 0755 $(BUILDDIR)/mbctl $(DESTDIR)$(BINDIR)/mbctl
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 0644 $(BUILDDIR)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -D -m 0644 $(BUILDDIR)/completions/mbctl.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/mbctl
	$(INSTALL) -D -m 0644 $(BUILDDIR)/completions/_mbctl $(DESTDIR)$(ZSH_COMPLETION_DIR)/_mbctl
	$(INSTALL) -D -m 0644 $(BUILDDIR)/completions/mbctl.fish $(DESTDIR)$(FISH_COMPLETION_DIR)/mbctl.fish
	$(INSTALL) -D -m 0644 Examples/config.toml $(DESTDIR)$(DOCDIR)/config.toml
	$(INSTALL) -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	$(INSTALL) -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	sed 's|@BINDIR@|$(BINDIR)|g' packaging/systemd/mbctl-auto-update.service.in > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/mbctl-auto-update.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/mbctl-auto-update.service
	$(INSTALL) -m 0644 packaging/systemd/mbctl-auto-update.timer $(DESTDIR)$(SYSTEMD_UNIT_DIR)/mbctl-auto-update.timer
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/mbctl/config.toml ]; then \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/mbctl/config.toml (the example is $(DOCDIR)/config.toml)"; \
	else \
		$(INSTALL) -D -m 0644 Examples/config.toml $(DESTDIR)$(SYSCONFDIR)/mbctl/config.toml; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mbctl
	rm -f $(DESTDIR)$(MANDIR)/man1/mbctl.1 $(DESTDIR)$(MANDIR)/man1/mbctl.*.1
	rm -f $(DESTDIR)$(BASH_COMPLETION_DIR)/mbctl $(DESTDIR)$(ZSH_COMPLETION_DIR)/_mbctl
	rm -f $(DESTDIR)$(FISH_COMPLETION_DIR)/mbctl.fish
	rm -rf $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(SYSTEMD_UNIT_DIR)/mbctl-auto-update.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/mbctl-auto-update.timer

# SwiftPM builds offline from a scratch path holding Package.resolved's checkouts and its
# workspace state, so the tarball carries those (without their git histories).
dist:
	test -n "$(VERSION)"
	$(DEADLINE) 600 $(SWIFT) package --scratch-path $(SCRATCH) resolve
	rm -rf $(BUILDDIR)/$(DIST) && mkdir -p $(BUILDDIR)/$(DIST)/.build-release
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(BUILDDIR)/$(DIST)
	cp Package.resolved $(BUILDDIR)/$(DIST)/
	cp $(SCRATCH)/workspace-state.json $(BUILDDIR)/$(DIST)/.build-release/
	cp -a $(SCRATCH)/checkouts $(BUILDDIR)/$(DIST)/.build-release/
	rm -rf $(BUILDDIR)/$(DIST)/.build-release/checkouts/*/.git
	tar -C $(BUILDDIR) --owner=0 --group=0 --sort=name -czf $(BUILDDIR)/$(DIST).tar.gz $(DIST)
	rm -rf $(BUILDDIR)/$(DIST)
	@echo $(BUILDDIR)/$(DIST).tar.gz

clean:
	rm -rf $(BUILDDIR)

format:
	$(DEADLINE) 300 $(SWIFT) format --in-place --recursive --parallel Sources Tests Package.swift
