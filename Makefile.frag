# Makefile fragment of shoppingfeed_sync (added by config.m4 to the Makefile
# phpize and configure write): the module is the library cargo builds.
#
#   make               cargo build --release, then modules/shoppingfeed_sync.so
#   make install       copies modules/* to $(EXTENSION_DIR) (INSTALL_ROOT honoured)
#   make clean         phpize's clean: modules/ and the like; cargo's target
#                      directory is left alone (see config.m4)
#   make cargo-clean   empties cargo's target directory, when that is wanted
#
# cargo puts its output where it is told: CARGO_TARGET_DIR from the
# environment, the target-dir of a .cargo/config.toml, else target/ in the
# sources. The library's path is taken from cargo's own report of what it
# built, so every one of these works.

# The files whose change calls for a new build. cargo decides what to
# rebuild; make only has to know when to ask, and must not ask during
# `sudo make install` (a cargo run as root would fill the target directory
# with files its owner cannot rewrite, and root's HOME has no toolchain).
SFSYNC_SOURCES = $(shell find $(srcdir)/src $(srcdir)/core/src $(srcdir)/core/migrations -type f 2>/dev/null) \
	$(srcdir)/Cargo.toml $(srcdir)/Cargo.lock $(srcdir)/core/Cargo.toml

$(phplibdir)/shoppingfeed_sync.so: $(SFSYNC_SOURCES)
	@echo "Building shoppingfeed_sync with cargo (release mode; the first build takes a few minutes)"
	$(SFSYNC_CARGO_ENV) $(SFSYNC_CARGO) build --release --locked --lib -p shoppingfeed_sync \
		--manifest-path $(srcdir)/Cargo.toml --message-format=json-render-diagnostics \
		> $(builddir)/.cargo-artifacts.json
	@so=`sed -n 's/.*"filenames":\["\([^"]*libshoppingfeed_sync\.so\)".*/\1/p' $(builddir)/.cargo-artifacts.json | tail -n 1`; \
	if test -z "$$so" || test ! -f "$$so"; then \
		echo "cargo built no libshoppingfeed_sync.so (its report: $(builddir)/.cargo-artifacts.json)" >&2; exit 1; \
	fi; \
	$(mkinstalldirs) $(phplibdir) && cp "$$so" $@.tmp && mv -f $@.tmp $@ && \
	echo "Built $@ (from $$so)"

cargo-clean:
	$(SFSYNC_CARGO_ENV) $(SFSYNC_CARGO) clean --manifest-path $(srcdir)/Cargo.toml
	rm -f $(builddir)/.cargo-artifacts.json

.PHONY: cargo-clean
