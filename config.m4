dnl config.m4 for push: the extension is Rust (ext-php-rs), built by cargo.
dnl `phpize && ./configure && make` runs `cargo build --release` for the PHP
dnl of this phpize (its php-config and php binary) and puts the library at
dnl modules/push.so, where `make install` (and PIE) take it from.

PHP_ARG_ENABLE([push],
  [whether to enable push (realtime push engine)],
  [AS_HELP_STRING([--enable-push], [Enable push (built by cargo)])],
  [yes])

PHP_ARG_WITH([cargo],
  [for the cargo to build push with],
  [AS_HELP_STRING([[--with-cargo[=PATH]]],
    [push: cargo to build with (default: cargo in PATH, then ~/.cargo/bin)])],
  [yes],
  [no])

if test "$PHP_PUSH" != "no"; then
  if test "$PHP_CARGO" = "yes" || test "$PHP_CARGO" = "no"; then
    AC_PATH_PROG([CARGO], [cargo], [], [$PATH$PATH_SEPARATOR$HOME/.cargo/bin])
  else
    CARGO="$PHP_CARGO"
  fi
  if test -z "$CARGO" || ! test -x "$CARGO"; then
    AC_MSG_ERROR([cargo not found: install Rust (https://rustup.rs) or pass --with-cargo=PATH])
  fi
  AC_MSG_CHECKING([cargo's version])
  PUSH_CARGO_VERSION=`"$CARGO" --version 2>/dev/null`
  AC_MSG_RESULT([$PUSH_CARGO_VERSION])

  dnl bindgen (ext-php-rs) needs libclang
  AC_MSG_CHECKING([for libclang])
  push_libclang="$LIBCLANG_PATH"
  for push_f in /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/*/libclang*.so* /usr/lib64/libclang*.so* /usr/local/lib/libclang*.so*; do
    if test -z "$push_libclang" && test -e "$push_f"; then push_libclang="$push_f"; fi
  done
  if test -n "$push_libclang"; then
    AC_MSG_RESULT([$push_libclang])
  else
    AC_MSG_RESULT([not found])
    AC_MSG_WARN([bindgen needs libclang (Debian: libclang-dev); set LIBCLANG_PATH if it is elsewhere])
  fi

  dnl ext-php-rs's build script wants full paths (it checks they exist)
  case "$PHP_CONFIG" in
    /*) PUSH_PHP_CONFIG="$PHP_CONFIG" ;;
    *) PUSH_PHP_CONFIG=`command -v "$PHP_CONFIG"` ;;
  esac
  PUSH_PHP="$PHP_EXECUTABLE"
  PHP_SUBST(CARGO)
  PHP_SUBST(PUSH_PHP_CONFIG)
  PHP_SUBST(PUSH_PHP)
  PHP_ADD_BUILD_DIR([modules])
  PHP_ADD_MAKEFILE_FRAGMENT([$abs_srcdir/Makefile.frag])
fi
