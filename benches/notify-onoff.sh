#!/usr/bin/env bash
# Sale throughput with notifications off vs on (docs/BENCHMARKS.md, "Notifications on vs off").
set -euo pipefail
cd /work/wt/notify16
S=target/release/cinebook-server
L=target/release/cinebook-load
for mode in off on off on; do
  D=$(mktemp -d)
  $S --data-dir $D --listen 127.0.0.1:7992 --gateway none > $D/server.log 2>&1 &
  SP=$!
  sleep 2
  TOKEN=$($S terminal add --name load --role admin --data-dir $D | grep -o 'cb_[0-9a-f]*' | head -1)
  $L prepare --addr 127.0.0.1:7992 --token $TOKEN --shows 240 --seats 300 > /dev/null
  extra=""
  [ $mode = on ] && extra="--email ana@example.ch"
  echo "== notifications $mode"
  $L run --addr 127.0.0.1:7992 --token $TOKEN --workload sale --connections 16 --duration 5s --shows 240 $extra 2>&1 | tail -3
  sleep 1
  echo "eml files after 1 s: $(ls $D/outbox-mail 2>/dev/null | wc -l)"
  kill $SP; wait $SP || true
done
