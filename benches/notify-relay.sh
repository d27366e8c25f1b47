#!/usr/bin/env bash
# Outbox rows relayed per second to RabbitMQ (docs/BENCHMARKS.md, "Notifications on vs off").
set -euo pipefail
cd /work/wt/notify16
S=target/release/cinebook-server
L=target/release/cinebook-load
D=$(mktemp -d)
P=bench-relay-$$
$S --data-dir $D --listen 127.0.0.1:7993 --gateway none --amqp amqp://guest:guest@127.0.0.1:5699/%2f --amqp-prefix $P > $D/server.log 2>&1 &
SP=$!
sleep 2
TOKEN=$($S terminal add --name load --role admin --data-dir $D | grep -o 'cb_[0-9a-f]*' | head -1)
$L prepare --addr 127.0.0.1:7993 --token $TOKEN --shows 240 --seats 300 > /dev/null
$L run --addr 127.0.0.1:7993 --token $TOKEN --workload sale --connections 16 --duration 4s --shows 240 --email a@b.ch 2>&1 | tail -2
DB=$D/cinebook.sqlite3
q() { sqlite3 "$DB" "SELECT COUNT(*) FROM outbox WHERE state='pending'"; }
N=$(q); echo "pending before the broker is reachable: $N"
socat TCP-LISTEN:5699,fork,reuseaddr TCP:127.0.0.1:5672 &
XP=$!
T0=$(date +%s.%N)
for i in $(seq 1 600); do [ "$(q)" = 0 ] && break; sleep 0.1; done
T1=$(date +%s.%N)
echo "drained $N rows in $(echo "$T1 - $T0" | bc) s (includes the relay's reconnect pause, at most 5 s)"
kill $SP; wait $SP || true; kill $XP || true
for q in send dead retry.0 retry.1 retry.2; do rabbitmqctl -q delete_queue $P.notify.$q >/dev/null 2>&1 || true; done
