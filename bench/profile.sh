#!/usr/bin/env bash
# Instruction counts of the hot paths under callgrind (stable on a noisy,
# shared machine, unlike wall-clock times): per saveOrder call (extension and
# PDO baseline) and per drained row (send run and ticket run of the cron).
# Each figure is the difference between two runs of different sizes, so
# PHP's start-up and the first call's open do not count.
#
#   bash bench/profile.sh            (after scripts/setup.sh)
#   EXT=/path/to/other.so bash bench/profile.sh     compare another build
#
# Keeps the callgrind files in var/profile/ for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
EXT=${EXT:-$PWD/target/release/libshoppingfeed_sync.so}
OUT=$PWD/var/profile
rm -rf "$OUT"; mkdir -p "$OUT"
ir() { grep -h "^summary:" "$1" | awk '{print $2}'; }
cg() { # cg NAME command...
  local name=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.out" "$@" >/dev/null 2>"$OUT/$name.log"
  ir "$OUT/$name.out"
}
per() { echo $(( ($2 - $1) / $3 )); }
reset_sandbox() { php -r 'file_get_contents($argv[1], false, stream_context_create(["http" => ["method" => "POST"]]));' "$1/_sandbox/reset"; }

small=500; large=1500
for impl in ext pdo pdo-minimal; do
  args=(php); [ "$impl" = ext ] && args+=(-d "extension=$EXT")
  a=$(cg "save-$impl-$small" "${args[@]}" bench/save.php --impl=$impl --n=$small --db="$OUT/s-$impl-$small.sqlite")
  b=$(cg "save-$impl-$large" "${args[@]}" bench/save.php --impl=$impl --n=$large --db="$OUT/s-$impl-$large.sqlite")
  echo "saveOrder ($impl): $(per "$a" "$b" $((large - small))) instructions per call"
done

# The drain: a sandbox without latency, the cron runner with MAX_ORDERS 4000.
./target/release/sf-sandbox --port 0 > "$OUT/sandbox.out" &
sandbox=$!
trap 'kill $sandbox 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q '^listening on ' "$OUT/sandbox.out" && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$OUT/sandbox.out")
set_args=()
for kv in SHOPPINGFEED_SHIPPED_ORDERS='[4]' SHOPPINGFEED_CANCELLED_ORDERS='[6]' SHOPPINGFEED_REFUNDED_ORDERS='[7]' \
          SHOPPINGFEED_DELIVERED_ORDERS='[5]' SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT=0 SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS=4000; do
  set_args+=(--set "$kv")
done
declare -A runs
for n in 1 4000; do
  db="$OUT/d-$n.sqlite"
  php -d extension="$EXT" bench/save.php --impl=ext --n=$n --db="$db" >/dev/null
  reset_sandbox "$url"
  for phase in send check; do
    runs[$phase-$n]=$(SHOPPINGFEED_AUTH_TOKEN=sandbox-token cg "drain-$phase-$n" php -d extension="$EXT" php/tools/bin/sync-orders.php \
      --shop=1 --store-id=42 --api-url="$url" --database="$db" --no-lock --time-budget=600 "${set_args[@]}")
  done
done
echo "drain, send run: $(per "${runs[send-1]}" "${runs[send-4000]}" 3999) instructions per row"
echo "drain, ticket run: $(per "${runs[check-1]}" "${runs[check-4000]}" 3999) instructions per row"
# The plain-PHP baseline of the same drain (PDO + curl_multi).
for n in 1 4000; do
  db="$OUT/p-$n.sqlite"
  php bench/save.php --impl=pdo --n=$n --db="$db" >/dev/null
  reset_sandbox "$url"
  for phase in send check; do
    runs[base-$phase-$n]=$(cg "baseline-$phase-$n" php bench/baseline/drain.php --db="$db" --api-url="$url" --phase=$phase --batch=4000)
  done
done
echo "baseline drain (PDO + curl_multi), send: $(per "${runs[base-send-1]}" "${runs[base-send-4000]}" 3999) instructions per row"
echo "baseline drain (PDO + curl_multi), tickets: $(per "${runs[base-check-1]}" "${runs[base-check-4000]}" 3999) instructions per row"
echo "(callgrind files: $OUT/)"
