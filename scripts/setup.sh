#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine with Rust lacks, then builds the
# extension and the sandbox in release mode. Safe to run again: it only
# installs what is missing and cargo only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# php-mysql: PDO MySQL for the tests' direct reads and the benchmark's
# baseline. MariaDB itself (the tests' private server, never the system
# service) is installed by scripts/mariadb.sh when a run needs it.
packages=(php-dev php-cli php-sqlite3 php-mysql php-curl php-mbstring php-xml php-fpm phpunit
          clang libclang-dev libfcgi-bin sqlite3 valgrind)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  # rustup puts cargo here; a non-login shell may not have it on PATH.
  export PATH="$HOME/.cargo/bin:$PATH"
fi

echo "==> building the extension and the sandbox (release)"
cargo build --release --workspace --quiet
echo "==> built target/release/libshoppingfeed_sync.so and target/release/sf-sandbox"
