#!/usr/bin/env bash
# Proves the PECL / PIE route and the release archive (issue 14), as CI runs
# it from scripts/test.sh:
#
#   1. copies the sources (every file git knows or would add: tracked and
#      untracked, not ignored) to a clean temporary directory;
#   2. there: phpize && ./configure && make && make install INSTALL_ROOT=...,
#      then loads the installed module by name with
#      `php -d extension_dir=... -d extension=shoppingfeed_sync` and asks
#      php --ri for it;
#   3. `make clean` leaves a cargo target directory alone (and removes the module);
#   4. ./configure refuses, with its clear message, a thread-safe (ZTS) PHP
#      (a php-config whose headers say ZTS, and one configured with
#      --enable-zts), a missing cargo and a missing clang;
#   5. scripts/release.sh builds the archive from the library of step 2:
#      its name is PIE's, it holds shoppingfeed_sync.so only, that library
#      loads, and the .sha256 file checks.
#
# cargo's target directory: SFSYNC_INSTALL_TARGET_DIR, default
# target/install-check, seeded (first run only) with a copy of
# target/release, so the dependencies are not built again. Not target/
# itself: cargo identifies the workspace's own crates by their path
# relative to the workspace, so a build of the copy and a build of the
# working tree share artifacts; a file edited in the working tree while the
# copy builds could then be taken for built. Set
# SFSYNC_INSTALL_TARGET_DIR=target to share it anyway (a CI machine where
# nobody edits: the build is then nearly free).
#
# Exit status: 0 when every check passes; the first failure stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# rustup's cargo, when the PATH lacks it. Only then: ext-php-rs rebuilds its
# bindings whenever PATH changes, so an unneeded change costs minutes.
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"

step() { echo "==> $*"; }
fail() { echo "test-install: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/shoppingfeed-install.XXXXXX")
if [ -z "${SFSYNC_KEEP_INSTALL_TMP:-}" ]; then
    trap 'rm -rf "$work"' EXIT
else
    echo "(keeping $work)"
fi
src=$work/src
mkdir -p "$src"

step "copying the sources to a clean directory ($src)"
# Tracked and untracked files, not ignored ones (the build's outputs, target/):
# what a fresh clone holds, plus what is not committed yet. Files deleted in
# the working tree are skipped. tar keeps their modification times.
git ls-files -z -co --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$src"
for f in configure Makefile modules build target; do
    [ ! -e "$src/$f" ] || fail "the copy holds $f: it is not a clean source tree"
done
[ -f "$src/config.m4" ] && [ -f "$src/Makefile.frag" ] || fail "config.m4 or Makefile.frag is missing from the sources"

target_dir=${SFSYNC_INSTALL_TARGET_DIR:-$root/target/install-check}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
if [ "$target_dir" != "$root/target" ] && [ ! -d "$target_dir/release" ] && [ -d "$root/target/release" ]; then
    step "seeding $target_dir with a copy of target/release (first run only)"
    mkdir -p "$target_dir"
    seeded=$(date +%s)
    # A build running meanwhile may delete files under the copy: cargo
    # rebuilds whatever is missing, so a partial seed only costs time.
    cp -a "$root/target/release" "$target_dir/release" 2> "$work/seed.log" \
        || echo "    (some files changed while they were copied: $(wc -l < "$work/seed.log") skipped, cargo rebuilds them)"
    echo "    seeded in $(( $(date +%s) - seeded )) s"
fi
export CARGO_TARGET_DIR=$target_dir

cd "$src"
step "phpize"
phpize > "$work/phpize.log" 2>&1 || { cat "$work/phpize.log"; fail "phpize"; }
step "./configure"
./configure > "$work/configure.log" 2>&1 || { tail -n 30 "$work/configure.log"; fail "./configure"; }
grep -E '^checking (for cargo|whether the PHP|for libclang|for clang)' "$work/configure.log" | sed 's/^/    /'
step "make (cargo build --release into $CARGO_TARGET_DIR)"
started=$(date +%s)
make > "$work/make.log" 2>&1 || { tail -n 40 "$work/make.log"; fail "make"; }
build_seconds=$(( $(date +%s) - started ))
echo "    make took ${build_seconds} s"
[ -f modules/shoppingfeed_sync.so ] || fail "make left no modules/shoppingfeed_sync.so"

step "make install INSTALL_ROOT=$work/root"
make install INSTALL_ROOT="$work/root" > "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "make install"; }
ext_dir=$(php-config --extension-dir)
installed=$work/root$ext_dir/shoppingfeed_sync.so
[ -f "$installed" ] || fail "make install put no shoppingfeed_sync.so in INSTALL_ROOT$ext_dir"
cmp -s modules/shoppingfeed_sync.so "$installed" || fail "the installed module is not the one built"
grep -q 'cargo build' "$work/install.log" && fail "make install ran cargo again (it must install what make built)"

step "loading the installed module by name (extension=shoppingfeed_sync)"
php -n -d extension_dir="$work/root$ext_dir" -d extension=shoppingfeed_sync \
    -r 'exit(extension_loaded("shoppingfeed_sync") ? 0 : 1);' || fail "php -d extension=shoppingfeed_sync did not load it"
php -n -d extension="$installed" --ri shoppingfeed_sync > "$work/ri.txt" || fail "php --ri shoppingfeed_sync"
grep -q 'shoppingfeed_sync.database' "$work/ri.txt" || fail "php --ri shows no shoppingfeed_sync.database"
php -n -d extension="$installed" -r 'echo "    loaded: shoppingfeed_sync ", phpversion("shoppingfeed_sync"), " in PHP ", PHP_VERSION, PHP_ZTS ? " ZTS" : " NTS", "\n";'
# The library cargo built for the repository's own tests is the same build.
cargo_so=$(sed -n 's/.*"filenames":\["\([^"]*libshoppingfeed_sync\.so\)".*/\1/p' .cargo-artifacts.json | tail -n 1)
[ -n "$cargo_so" ] || fail "make left no cargo report of the library"

step "make clean leaves a cargo target directory alone"
mkdir -p target/release/deps target/release/build/x/out
: > target/CACHEDIR.TAG
: > target/release/deps/libproc_macro_probe.so
: > target/release/build/x/out/libprobe.a
: > target/release/build/x/out/probe.o
make clean > "$work/clean.log" 2>&1 || { cat "$work/clean.log"; fail "make clean"; }
for f in target/release/deps/libproc_macro_probe.so target/release/build/x/out/libprobe.a target/release/build/x/out/probe.o; do
    [ -f "$f" ] || fail "make clean deleted $f inside a cargo target directory"
done
[ ! -e modules/shoppingfeed_sync.so ] || fail "make clean left modules/shoppingfeed_sync.so"
rm -rf target

step "./configure refuses what cannot build or load, with a clear message"
expect_refusal() { # label, message, command...
    local label=$1 message=$2
    shift 2
    if "$@" > "$work/refusal.log" 2>&1; then
        fail "./configure accepted $label"
    fi
    grep -qF "$message" "$work/refusal.log" || { tail -n 5 "$work/refusal.log"; fail "./configure refused $label without saying: $message"; }
    echo "    refused $label: $(grep -F "$message" "$work/refusal.log" | head -n 1 | sed 's/^configure: error: //' | cut -c1-150)..."
}
# A php-config of a ZTS PHP: its headers define ZTS (what phpize's own check reads).
mkdir -p "$work/zts/include/main"
echo '#define ZTS 1' > "$work/zts/include/main/php_config.h"
real_config=$(command -v php-config)
cat > "$work/zts/php-config" <<EOF
#!/bin/sh
case "\$1" in
  --include-dir) echo "$work/zts/include" ;;
  *) exec "$real_config" "\$@" ;;
esac
EOF
cat > "$work/zts/php-config-options" <<EOF
#!/bin/sh
case "\$1" in
  --configure-options) echo "\$("$real_config" --configure-options) --enable-zts" ;;
  *) exec "$real_config" "\$@" ;;
esac
EOF
chmod +x "$work/zts/php-config" "$work/zts/php-config-options"
zts_message='shoppingfeed_sync needs a non-thread-safe (NTS) PHP'
expect_refusal "a ZTS PHP (its headers)" "$zts_message" ./configure --with-php-config="$work/zts/php-config"
expect_refusal "a ZTS PHP (configured with --enable-zts)" "$zts_message" ./configure --with-php-config="$work/zts/php-config-options"
# No cargo: neither in PATH nor in $HOME/.cargo/bin (or, where the system has one, a wrong --with-cargo).
mkdir -p "$work/nohome"
if PATH=/usr/bin:/bin command -v cargo >/dev/null 2>&1; then
    expect_refusal "a missing cargo" "cargo not found" ./configure --with-cargo="$work/nohome/cargo"
else
    expect_refusal "a missing cargo" "cargo not found" env PATH=/usr/bin:/bin HOME="$work/nohome" ./configure
fi
expect_refusal "a missing clang" "clang not found" env CLANG="$work/nohome/clang" ./configure

step "scripts/release.sh builds PIE's archive"
version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
tag=v$version
php_xy=$(php -n -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')
case $(uname -m) in x86_64|amd64) arch=x86_64 ;; aarch64|arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
export SFSYNC_RELEASE_DIR=$work/release
bash "$root/scripts/release.sh" "$tag" --so="$installed" > "$work/release.log" 2>&1 || { cat "$work/release.log"; fail "release.sh"; }
name=php_shoppingfeed_sync-${tag}_php${php_xy}-${arch}-linux-glibc-nts.tgz
[ -f "$SFSYNC_RELEASE_DIR/$name" ] || { ls -la "$SFSYNC_RELEASE_DIR"; fail "no archive named $name"; }
[ "$(ls "$SFSYNC_RELEASE_DIR")" = "$(printf '%s\n%s' "$name" "$name.sha256")" ] || fail "release.sh wrote other files: $(ls "$SFSYNC_RELEASE_DIR")"
[ "$(tar -tzf "$SFSYNC_RELEASE_DIR/$name")" = "shoppingfeed_sync.so" ] || fail "the archive holds $(tar -tzf "$SFSYNC_RELEASE_DIR/$name" | tr '\n' ' '), not shoppingfeed_sync.so alone"
(cd "$SFSYNC_RELEASE_DIR" && sha256sum -c --quiet "$name.sha256") || fail "the checksum file does not match the archive"
mkdir -p "$work/unpacked"
tar -xzf "$SFSYNC_RELEASE_DIR/$name" -C "$work/unpacked"
php -n -d extension_dir="$work/unpacked" -d extension=shoppingfeed_sync \
    -r 'exit(extension_loaded("shoppingfeed_sync") && phpversion("shoppingfeed_sync") === $argv[1] ? 0 : 1);' "$version" \
    || fail "the archive's library does not load as shoppingfeed_sync $version"
echo "    $name ($(du -k "$SFSYNC_RELEASE_DIR/$name" | cut -f1) KiB), sha256 $(cut -c1-16 "$SFSYNC_RELEASE_DIR/$name.sha256")..."
# Refusals of release.sh: a tag that is not the crate's version, and no tag.
if bash "$root/scripts/release.sh" v0.0.0-nope --so="$installed" > "$work/release-bad.log" 2>&1; then
    fail "release.sh accepted a tag that is not Cargo.toml's version"
fi
grep -q "but Cargo.toml's version is $version" "$work/release-bad.log" || { cat "$work/release-bad.log"; fail "release.sh refused a wrong tag without saying why"; }
set +e
bash "$root/scripts/release.sh" > /dev/null 2>&1
code=$?
set -e
[ "$code" = 2 ] || fail "release.sh without a TAG exited $code, not 2 (usage)"

echo "test-install: OK (phpize route, make install, make clean, configure refusals, release archive; make took ${build_seconds} s)"
