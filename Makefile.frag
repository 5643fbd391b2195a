# push: modules/push.so is cargo's target/release/libpush.so (config.m4).
all: $(phplibdir)/push.so
build-modules: $(phplibdir)/push.so
install-modules: $(phplibdir)/push.so

.PHONY: push-cargo
push-cargo:
	cd $(top_srcdir) && PHP="$(PUSH_PHP)" PHP_CONFIG="$(PUSH_PHP_CONFIG)" "$(CARGO)" build --release --locked -p push

$(phplibdir)/push.so: push-cargo
	$(mkinstalldirs) $(phplibdir)
	cp "$${CARGO_TARGET_DIR:-$(top_srcdir)/target}/release/libpush.so" $@
