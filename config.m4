dnl config.m4 of shoppingfeed_sync: the PECL / PIE build of an extension
dnl written in Rust (ext-php-rs).
dnl
dnl   phpize && ./configure && make && make install
dnl
dnl `make` runs `cargo build --release` (Makefile.frag) and copies the
dnl library to modules/shoppingfeed_sync.so, which `make install` puts in
dnl `php-config --extension-dir` like any other extension. There is no C
dnl source: configure only checks what the Rust build needs, so that a
dnl missing tool is named here, in one line, instead of deep in a cargo
dnl log:
dnl
dnl   - cargo (PATH, then $HOME/.cargo/bin where rustup puts it, or
dnl     --with-cargo=PATH) and a Rust as recent as Cargo.toml's rust-version;
dnl   - clang and libclang: ext-php-rs generates its PHP bindings with
dnl     bindgen, which loads libclang at build time;
dnl   - a non-thread-safe (NTS) PHP: the extension is built and tested for
dnl     NTS only (ZTS builds are refused here, before a long build that
dnl     would not load).

PHP_ARG_ENABLE([shoppingfeed_sync],
  [whether to enable shoppingfeed_sync],
  [AS_HELP_STRING([--enable-shoppingfeed_sync],
    [Build the shoppingfeed_sync extension (Rust, built with cargo) [default=yes]])],
  [yes])

PHP_ARG_WITH([cargo],
  [],
  [AS_HELP_STRING([--with-cargo=PATH],
    [shoppingfeed_sync: the cargo binary (default: cargo in PATH, then $HOME/.cargo/bin/cargo)])],
  [no],
  [no])

if test "$PHP_SHOPPINGFEED_SYNC" != "no"; then

  dnl ---- PHP: non-thread-safe, 8.1 or newer ----------------------------
  dnl phpize's configure has read ZTS from php-config's headers
  dnl (PHP_THREAD_SAFETY); the configure options and the PHP binary are
  dnl asked too, so that a php-config pointing at headers of another build
  dnl than its binary cannot slip through (ext-php-rs reads the binary).
  AC_MSG_CHECKING([whether the PHP of $PHP_CONFIG is non-thread-safe (NTS)])
  sfsync_zts=
  if test "$PHP_THREAD_SAFETY" = "yes"; then
    sfsync_zts="its headers (main/php_config.h) define ZTS"
  elif $PHP_CONFIG --configure-options 2>/dev/null | grep -E -e '--enable-(maintainer-)?zts' >/dev/null; then
    sfsync_zts="it was configured with --enable-zts"
  elif test -n "$PHP_EXECUTABLE" && test -x "$PHP_EXECUTABLE" && test "`$PHP_EXECUTABLE -n -r 'echo PHP_ZTS;' 2>/dev/null`" = "1"; then
    sfsync_zts="its binary $PHP_EXECUTABLE reports PHP_ZTS = 1"
  fi
  if test -n "$sfsync_zts"; then
    AC_MSG_RESULT([no])
    AC_MSG_ERROR([shoppingfeed_sync needs a non-thread-safe (NTS) PHP, but the PHP of $PHP_CONFIG is thread-safe (ZTS): $sfsync_zts. Build against an NTS PHP (Debian's php8.2 is NTS): ./configure --with-php-config=/path/to/nts/php-config])
  fi
  AC_MSG_RESULT([yes])

  AC_MSG_CHECKING([for the PHP binary ext-php-rs reads the build from])
  if test -z "$PHP_EXECUTABLE" || test "$PHP_EXECUTABLE" = "NONE" || test ! -x "$PHP_EXECUTABLE"; then
    AC_MSG_RESULT([none])
    AC_MSG_ERROR([$PHP_CONFIG --php-binary names no PHP binary ('$PHP_EXECUTABLE'): the Rust build (ext-php-rs) runs it to learn the PHP it builds for. Install the PHP CLI (Debian: apt-get install php8.2-cli)])
  fi
  AC_MSG_RESULT([$PHP_EXECUTABLE])

  sfsync_vernum=`$PHP_CONFIG --vernum 2>/dev/null`
  if test -z "$sfsync_vernum" || test "$sfsync_vernum" -lt 80100; then
    AC_MSG_ERROR([shoppingfeed_sync needs PHP 8.1 or newer (ext-php-rs); $PHP_CONFIG reports '$sfsync_vernum'])
  fi
  if test "$sfsync_vernum" -lt 80200 || test "$sfsync_vernum" -ge 80300; then
    AC_MSG_WARN([shoppingfeed_sync is tested on PHP 8.2 only; $PHP_CONFIG reports $sfsync_vernum])
  fi

  dnl ---- cargo and Rust ------------------------------------------------
  AC_MSG_CHECKING([for cargo])
  SFSYNC_CARGO=
  if test "$PHP_CARGO" != "no" && test "$PHP_CARGO" != "yes"; then
    SFSYNC_CARGO=$PHP_CARGO
  elif command -v cargo >/dev/null 2>&1; then
    SFSYNC_CARGO=`command -v cargo`
  elif test -n "$HOME" && test -x "$HOME/.cargo/bin/cargo"; then
    dnl rustup installs here and only adds it to the PATH of login shells:
    dnl PIE, sudo and cron often run without it.
    SFSYNC_CARGO=$HOME/.cargo/bin/cargo
  fi
  if test -z "$SFSYNC_CARGO" || test ! -x "$SFSYNC_CARGO"; then
    AC_MSG_RESULT([not found])
    AC_MSG_ERROR([cargo not found (searched: --with-cargo, PATH, \$HOME/.cargo/bin). shoppingfeed_sync is written in Rust: install it with rustup (https://rustup.rs: curl https://sh.rustup.rs -sSf | sh), or give its path: ./configure --with-cargo=/path/to/cargo])
  fi
  AC_MSG_RESULT([$SFSYNC_CARGO])

  AC_MSG_CHECKING([whether cargo is as recent as Cargo.toml's rust-version])
  sfsync_rust_need=`sed -n 's/^rust-version *= *"\([[0-9.]]*\)".*/\1/p' "$abs_srcdir/Cargo.toml" | head -n 1`
  sfsync_rust_have=`"$SFSYNC_CARGO" --version 2>/dev/null | sed -n 's/^cargo \([[0-9]]*\.[[0-9]]*\).*/\1/p'`
  if test -z "$sfsync_rust_have"; then
    AC_MSG_RESULT([unknown])
    AC_MSG_ERROR([$SFSYNC_CARGO --version did not run: check the Rust installation (rustup show)])
  fi
  if test -n "$sfsync_rust_need"; then
    sfsync_need_major=`echo "$sfsync_rust_need" | cut -d. -f1`
    sfsync_need_minor=`echo "$sfsync_rust_need" | cut -d. -f2`
    sfsync_have_major=`echo "$sfsync_rust_have" | cut -d. -f1`
    sfsync_have_minor=`echo "$sfsync_rust_have" | cut -d. -f2`
    if test "$sfsync_have_major" -lt "$sfsync_need_major" || { test "$sfsync_have_major" -eq "$sfsync_need_major" && test "$sfsync_have_minor" -lt "$sfsync_need_minor"; }; then
      AC_MSG_RESULT([no, $sfsync_rust_have])
      AC_MSG_ERROR([shoppingfeed_sync needs Rust $sfsync_rust_need or newer; $SFSYNC_CARGO is $sfsync_rust_have: rustup update stable])
    fi
  fi
  AC_MSG_RESULT([yes, $sfsync_rust_have (needs $sfsync_rust_need)])

  dnl ---- clang and libclang (bindgen) ----------------------------------
  AC_PATH_PROG([CLANG], [clang], [no])
  if test "$CLANG" = "no" || test ! -x "$CLANG"; then
    AC_MSG_ERROR([clang not found: ext-php-rs generates its PHP bindings with bindgen, which needs clang and libclang (Debian: apt-get install clang libclang-dev); or name it: ./configure CLANG=/path/to/clang])
  fi
  AC_MSG_CHECKING([for libclang])
  sfsync_libclang=
  sfsync_llvm_libdir=
  if command -v llvm-config >/dev/null 2>&1; then
    sfsync_llvm_libdir=`llvm-config --libdir 2>/dev/null`
  fi
  for sfsync_dir in $LIBCLANG_PATH $sfsync_llvm_libdir /usr/lib/llvm-*/lib /usr/lib64/llvm*/lib /usr/lib/*-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    for sfsync_file in "$sfsync_dir"/libclang.so "$sfsync_dir"/libclang.so.* "$sfsync_dir"/libclang-*.so*; do
      if test -f "$sfsync_file"; then
        sfsync_libclang=$sfsync_file
        break 2
      fi
    done
  done
  if test -z "$sfsync_libclang"; then
    AC_MSG_RESULT([not found])
    AC_MSG_ERROR([libclang not found: bindgen (ext-php-rs) loads it to read PHP's headers (Debian: apt-get install libclang-dev), or set LIBCLANG_PATH to the directory holding libclang.so])
  fi
  AC_MSG_RESULT([$sfsync_libclang])

  dnl ---- what the Makefile hands to cargo -----------------------------
  dnl ext-php-rs reads the PHP to build for from the environment variables
  dnl PHP_CONFIG and PHP, else from php-config and php in PATH; its build
  dnl script is rerun whenever either variable changes, so they are only
  dnl set when they name another PHP than the PATH does (then the build
  dnl must follow this configure, and an unchanged one reuses cargo's work).
  SFSYNC_CARGO_ENV=
  sfsync_conf=`command -v "$PHP_CONFIG" 2>/dev/null`
  sfsync_path_conf=`command -v php-config 2>/dev/null`
  if test -z "$sfsync_path_conf" || test "`readlink -f "$sfsync_path_conf"`" != "`readlink -f "$sfsync_conf"`"; then
    SFSYNC_CARGO_ENV="PHP_CONFIG=`readlink -f "$sfsync_conf"`"
  fi
  sfsync_path_php=`command -v php 2>/dev/null`
  if test -z "$sfsync_path_php" || test "`readlink -f "$sfsync_path_php"`" != "`readlink -f "$PHP_EXECUTABLE"`"; then
    SFSYNC_CARGO_ENV="$SFSYNC_CARGO_ENV PHP=`readlink -f "$PHP_EXECUTABLE"`"
  fi
  if test -n "$LIBCLANG_PATH"; then
    SFSYNC_CARGO_ENV="$SFSYNC_CARGO_ENV LIBCLANG_PATH=$LIBCLANG_PATH"
  fi

  PHP_SUBST(SFSYNC_CARGO)
  PHP_SUBST(SFSYNC_CARGO_ENV)

  dnl No C source, so no PHP_NEW_EXTENSION: the one module is the library
  dnl cargo builds (Makefile.frag), copied into modules/ where
  dnl `make install` takes every module from.
  PHP_MODULES="\$(phplibdir)/shoppingfeed_sync.so"
  PHP_ADD_BUILD_DIR([$abs_builddir/modules])
  PHP_ADD_MAKEFILE_FRAGMENT([$abs_srcdir/Makefile.frag], [$abs_srcdir], [$abs_builddir])

  dnl `make clean` runs `find . -name '*.o' -o -name '*.so' ... | xargs rm`:
  dnl inside a cargo target directory that deletes the build scripts' static
  dnl libraries and every proc-macro, and the next cargo build then fails
  dnl to link or rebuilds everything. phpize copied Makefile.global into
  dnl build/ for this configure only: its find commands are taught to skip
  dnl any directory cargo marked with CACHEDIR.TAG (every target directory).
  dnl `make cargo-clean` empties cargo's target directory when asked.
  if test -f "$abs_srcdir/build/Makefile.global" && ! grep CACHEDIR.TAG "$abs_srcdir/build/Makefile.global" >/dev/null 2>&1; then
    sed -e 's#^\(.find \.\) \(.*\)|#\1 -type d -exec test -e {}/CACHEDIR.TAG \\; -prune -o \\( \2 \\) -print |#' \
      "$abs_srcdir/build/Makefile.global" > "$abs_srcdir/build/Makefile.global.sfsync" \
      && mv "$abs_srcdir/build/Makefile.global.sfsync" "$abs_srcdir/build/Makefile.global"
  fi
fi
