#!/usr/bin/env bash
# Builds the pre-packaged binary of a release, under the name PIE looks for
# among a GitHub release's assets (composer.json: "download-url-method":
# ["pre-packaged-binary", "composer-default"]):
#
#   php_shoppingfeed_sync-<TAG>_php<X.Y>-<ARCH>-linux-glibc-nts.tgz
#
# holding shoppingfeed_sync.so at its root, and beside it
# <archive>.sha256 ("<sha256>  <archive>", as `sha256sum -c` reads it).
#
#   bash scripts/release.sh TAG [--so=PATH]
#
# TAG is the git tag of the release (v0.2.0 or 0.2.0); it must name the
# version in Cargo.toml, so that an archive never carries another build
# than its name says. The library is built with cargo (release mode), or
# taken from --so=PATH (scripts/test-install.sh passes the one it built
# through phpize); either way it is checked to load in the PHP it is
# labelled for and to report that version. Debug info is stripped from the
# copy in the archive (48 MB -> 10 MB; a release needs no debugger symbols).
#
# The PHP is the one of $PHP_CONFIG (default php-config in PATH): X.Y is its
# version, it must be non-thread-safe (nts) and not a debug build, the
# machine must run glibc. ARCH is PIE's name: x86_64, arm64 or x86.
# Output: target/release-archive/ (SFSYNC_RELEASE_DIR to change it).
# The archive is reproducible: same library, same bytes (sorted names,
# fixed owner and time: SOURCE_DATE_EPOCH, default the last commit's time).
#
# Exit status: 0 built, 1 refused or failed (the message says why), 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# rustup's cargo, when the PATH lacks it. Only then: ext-php-rs rebuilds its
# bindings whenever PATH changes, so an unneeded change costs minutes.
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

tag=
so=
for arg in "$@"; do
    case $arg in
        --so=*) so=${arg#--so=} ;;
        -h|--help) usage ;;
        -*) echo "release.sh: unknown option $arg" >&2; usage ;;
        *)
            if [ -n "$tag" ]; then echo "release.sh: one TAG only (got $tag and $arg)" >&2; usage; fi
            tag=$arg ;;
    esac
done
[ -n "$tag" ] || { echo "release.sh: the release's TAG is needed, e.g. v0.2.0" >&2; usage; }

fail() { echo "release.sh: $*" >&2; exit 1; }

# The tag names the crate's version: vX.Y.Z or X.Y.Z, with an optional
# pre-release (-rc.1). Only characters that are safe in a file name.
if ! [[ $tag =~ ^v?([0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?)$ ]]; then
    fail "TAG must be a version such as v0.2.0 or 0.2.0-rc.1, got '$tag'"
fi
tag_version=${BASH_REMATCH[1]}
crate_version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
[ -n "$crate_version" ] || fail "no version in Cargo.toml's [workspace.package]"
[ "$tag_version" = "$crate_version" ] \
    || fail "TAG $tag names version $tag_version, but Cargo.toml's version is $crate_version: tag the commit that carries that version"

# The PHP the archive is for.
php_config=${PHP_CONFIG:-php-config}
command -v "$php_config" >/dev/null 2>&1 || fail "$php_config not found (install php-dev, or set PHP_CONFIG)"
php_bin=$("$php_config" --php-binary)
[ -x "$php_bin" ] || fail "$php_config --php-binary names no PHP binary ('$php_bin')"
php_xy=$("$php_bin" -n -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')
[ "$("$php_bin" -n -r 'echo PHP_ZTS;')" = "0" ] || fail "the PHP of $php_config is thread-safe (ZTS): shoppingfeed_sync is built for NTS only"
[ "$("$php_bin" -n -r 'echo PHP_DEBUG;')" = "0" ] || fail "the PHP of $php_config is a debug build: a release archive is for a PHP built without --enable-debug"
case $(uname -s) in
    Linux) ;;
    *) fail "release archives are built on Linux (this is $(uname -s))" ;;
esac
getconf GNU_LIBC_VERSION > /dev/null 2>&1 || fail "this machine's C library is not glibc: the archive would be named for glibc but need another libc"
case $(uname -m) in
    x86_64|amd64) arch=x86_64 ;;
    aarch64|arm64) arch=arm64 ;;
    i?86) arch=x86 ;;
    *) fail "unknown architecture $(uname -m) (PIE names: x86_64, arm64, x86)" ;;
esac

# The library.
if [ -z "$so" ]; then
    echo "==> cargo build --release (shoppingfeed_sync $crate_version for PHP $php_xy)"
    report=$(mktemp)
    trap 'rm -f "$report"' EXIT
    PHP_CONFIG=$(command -v "$php_config") cargo build --release --locked --lib -p shoppingfeed_sync \
        --message-format=json-render-diagnostics > "$report"
    so=$(sed -n 's/.*"filenames":\["\([^"]*libshoppingfeed_sync\.so\)".*/\1/p' "$report" | tail -n 1)
    [ -n "$so" ] || fail "cargo reported no libshoppingfeed_sync.so"
fi
[ -f "$so" ] || fail "no library at $so"
loaded=$("$php_bin" -n -d extension="$so" -r 'echo extension_loaded("shoppingfeed_sync") ? phpversion("shoppingfeed_sync") : "not loaded";' 2>&1) \
    || fail "$so does not load in $php_bin: $loaded"
[ "$loaded" = "$crate_version" ] || fail "$so reports version '$loaded' in $php_bin, the release is $crate_version"

name=php_shoppingfeed_sync-${tag}_php${php_xy}-${arch}-linux-glibc-nts
out=${SFSYNC_RELEASE_DIR:-$root/target/release-archive}
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage" "${report:-}"' EXIT
cp "$so" "$stage/shoppingfeed_sync.so"
chmod 0755 "$stage/shoppingfeed_sync.so"
if command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$stage/shoppingfeed_sync.so"
fi
# The stripped copy must still load (strip never touches what the loader needs; checked anyway).
"$php_bin" -n -d extension="$stage/shoppingfeed_sync.so" -r 'exit(extension_loaded("shoppingfeed_sync") ? 0 : 1);' \
    || fail "the stripped library does not load"

epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -C "$stage" -cf - shoppingfeed_sync.so | gzip -n -9 > "$out/$name.tgz"
(cd "$out" && sha256sum "$name.tgz" > "$name.tgz.sha256")

echo "$out/$name.tgz"
echo "$out/$name.tgz.sha256: $(cut -d' ' -f1 "$out/$name.tgz.sha256")"
