#!/usr/bin/env bash
# The main job: builds everything, starts the local Shopping Feed sandbox,
# queues a few hundred orders through the extension, runs the cron until
# they are settled, and shows what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

work=$(mktemp -d /tmp/shoppingfeed-demo.XXXXXX)
./target/release/sf-sandbox --port 0 --ticket-delay-ms 400 --latency-ms 20 > "$work/sandbox.out" &
sandbox_pid=$!
trap 'kill $sandbox_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$work/sandbox.out" 2>/dev/null && break
  sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$work/sandbox.out" | head -n 1)
[ -n "$url" ] || { echo "the sandbox did not start"; exit 1; }
echo "==> sandbox at $url, queue at $work/queue.sqlite"

php -d extension="$PWD/target/release/libshoppingfeed_sync.so" \
    -d shoppingfeed_sync.database="$work/queue.sqlite" \
    -d shoppingfeed_sync.api_url="$url" \
    php/tools/demo.php "$url" "$work/queue.sqlite"
