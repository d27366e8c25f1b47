#!/usr/bin/env bash
# The compose deployment without containers: deploy/nginx.conf (the same stream configuration,
# only its addresses and log paths swapped for 127.0.0.1 ones) with Debian's nginx in front of
# three cinebook-server processes on 127.0.0.1 over a MariaDB database this script creates.
#
# It sells a ticket through nginx with the `cinebook` CLI, SIGKILLs the node nginx routes this
# client to, sells again through nginx (nginx moves the connection to a live node; a follower
# answers NotLeader and the CLI follows it to the leader's address), checks both sales are in
# the database, and removes everything it started, on success, failure or interrupt.
#
#   bash deploy/local-cluster.sh [--server PATH] [--client PATH]
#
# Environment: CINEBOOK_SERVER_BIN, CINEBOOK_CLIENT_BIN (default target/debug/…),
# CINEBOOK_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306: a server URL without a database;
# the user must be able to create and drop databases), LOCAL_CLUSTER_KEEP=1 keeps the work
# directory with the logs. Installs nginx-light and its stream module with apt-get if missing.
# Exits 0 when every check passed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
server_bin="${CINEBOOK_SERVER_BIN:-$root/target/debug/cinebook-server}"
client_bin="${CINEBOOK_CLIENT_BIN:-$root/target/debug/cinebook}"
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server_bin="$2"; shift 2 ;;
    --client) client_bin="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
mysql_url="${CINEBOOK_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
mysql_url="${mysql_url%/}"

# Every wait below is bounded by one of these (seconds).
LEADER_WAIT_S=20
NGINX_WAIT_S=5
CLI_TIMEOUT_S=20

started_at=$(date +%s)
say() { printf '[local-cluster %3ss] %s\n' "$(( $(date +%s) - started_at ))" "$*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

for bin in "$server_bin" "$client_bin"; do
  [ -x "$bin" ] || fail "$bin is not an executable (build with: cargo build -p cinebook-server -p cinebook-client)"
done

# --- nginx ---------------------------------------------------------------------------------------
stream_module=/usr/lib/nginx/modules/ngx_stream_module.so
has_stream() {
  command -v nginx >/dev/null 2>&1 || return 1
  nginx -V 2>&1 | grep -Eq -- '--with-stream( |$)' || [ -f "$stream_module" ]
}
if ! has_stream; then
  say "installing Debian's nginx-light and its stream module"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q nginx-light libnginx-mod-stream >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    apt-get install -y -q nginx-light libnginx-mod-stream >/dev/null
  fi
  has_stream || fail "nginx with the stream module is still missing"
fi

# --- MySQL ---------------------------------------------------------------------------------------
# mysql://user[:password]@host[:port]
re='^mysql://([^:@/]+)(:([^@/]*))?@([^:/]+)(:([0-9]+))?$'
[[ "$mysql_url" =~ $re ]] || fail "CINEBOOK_TEST_MYSQL_URL must look like mysql://user[:pass]@host[:port]"
db_user="${BASH_REMATCH[1]}"; db_pass="${BASH_REMATCH[3]}"
db_host="${BASH_REMATCH[4]}"; db_port="${BASH_REMATCH[6]:-3306}"
sql_client=$(command -v mariadb || command -v mysql) || fail "the mariadb (or mysql) client is missing"
sql() {
  MYSQL_PWD="$db_pass" "$sql_client" --protocol=tcp -h"$db_host" -P"$db_port" -u"$db_user" \
    --connect-timeout=5 -N -B "$@"
}
db_name="cinebook_local_cluster_$$_$RANDOM"
database="$mysql_url/$db_name"

# --- clean-up, whatever happens ------------------------------------------------------------------
work="$(mktemp -d -t cinebook-local-cluster.XXXXXX)"
declare -A node_pid=()
nginx_pid=""
db_created=0
cleanup() {
  local status=$?
  set +e
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
  for id in "${!node_pid[@]}"; do
    kill "${node_pid[$id]}" 2>/dev/null
  done
  # Nodes exit within their shutdown grace; then anything left is killed.
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${node_pid[@]}" $nginx_pid; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${node_pid[@]}" $nginx_pid; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  [ $db_created = 1 ] && sql -e "DROP DATABASE IF EXISTS \`$db_name\`"
  if [ $status -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      echo "---- $(basename "$log"): errors, then its last lines"
      grep -m 5 -i 'error\|panicked\|emerg' "$log"
      tail -n 15 "$log"
    done
  fi
  if [ "${LOCAL_CLUSTER_KEEP:-0}" = 1 ]; then
    say "logs kept in $work"
  else
    rm -rf "$work"
  fi
  say "cleaned up (exit $status)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- ports ---------------------------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Listening ports come from below the kernel's ephemeral range, so that no outgoing connection
# (the nodes talk to each other and to MySQL) can take one before its listener binds.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
ports_low=10000
ports_span=$(( ephemeral_low - ports_low ))
[ "$ports_span" -ge 1000 ] || { ports_low=20000; ports_span=10000; }
declare -A taken=()
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( ports_low + RANDOM % ports_span ))
    if [ -z "${taken[$p]:-}" ] && ! port_in_use "$p"; then
      taken[$p]=1
      echo "$p"
      return 0
    fi
  done
  fail "no free port found"
}
declare -A port=() metrics_port=()
for id in 1 2 3; do
  port[$id]=$(free_port)
  taken[${port[$id]}]=1
  metrics_port[$id]=$(free_port)
  taken[${metrics_port[$id]}]=1
done
lb_port=$(free_port)
peers="1=127.0.0.1:${port[1]},2=127.0.0.1:${port[2]},3=127.0.0.1:${port[3]}"

# GET on a node's metrics listener; prints the body. Bounded by bash's connect and `timeout`.
http_get() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
    cat <&3' _ "$1" "$2" 2>/dev/null | tr -d '\r' | sed '1,/^$/d'
}
role_of() {
  http_get "${metrics_port[$1]}" /metrics | sed -n 's/^cinebook_node_role{role="\([a-z]*\)"} 1$/\1/p'
}
leader() {
  for id in 1 2 3; do
    [ -n "${node_pid[$id]:-}" ] || continue
    [ "$(role_of "$id")" = leader ] && { echo "$id"; return 0; }
  done
  return 1
}
wait_for_leader() {
  local deadline=$(( $(date +%s) + LEADER_WAIT_S ))
  while [ "$(date +%s)" -lt $deadline ]; do
    leader >/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# --- the database, a terminal, the nodes ---------------------------------------------------------
say "database $db_name on $db_host:$db_port"
sql -e "CREATE DATABASE \`$db_name\`"
db_created=1
export CINEBOOK_LOG=info
"$server_bin" import --sample --database "$database" >"$work/import.log" 2>&1 \
  || fail "import --sample failed"
say "sample cinema imported: $(grep -c . "$work/import.log") lines of report ($(grep -m1 'shows' "$work/import.log" | tr -s ' '))"
token=$("$server_bin" terminal add --name local-cluster --role box-office --database "$database" 2>>"$work/import.log") \
  || fail "terminal add failed"
[ -n "$token" ] || fail "terminal add printed no token"
say "box-office terminal created (token from \`cinebook-server terminal add\`)"

secret="local-cluster-$(date +%s%N)-secret"
start_node() {
  local id=$1
  CINEBOOK_CLUSTER_SECRET="$secret" "$server_bin" --database "$database" \
    --listen "127.0.0.1:${port[$id]}" --node-id "$id" --peers "$peers" \
    --metrics-listen "127.0.0.1:${metrics_port[$id]}" --log-format json \
    >"$work/node$id.log" 2>&1 &
  node_pid[$id]=$!
}
for id in 1 2 3; do start_node "$id"; done
say "nodes 1, 2, 3 on 127.0.0.1 ports ${port[1]}, ${port[2]}, ${port[3]} (metrics ${metrics_port[1]}, ${metrics_port[2]}, ${metrics_port[3]})"
wait_for_leader || fail "no leader within $LEADER_WAIT_S s"
first_leader=$(leader)
say "node $first_leader leads (cinebook_node_role on /metrics)"
for id in 1 2 3; do
  ready=$(http_get "${metrics_port[$id]}" /readyz)
  [ "$ready" = ready ] || fail "node $id /readyz: $ready"
done
say "every node answers /readyz: ready"

# --- nginx: deploy/nginx.conf with local addresses -----------------------------------------------
conf="$work/nginx.conf"
{
  if ! nginx -V 2>&1 | grep -Eq -- '--with-stream( |$)'; then
    echo "load_module $stream_module;"
  fi
  sed -e "s#server node1:7001#server 127.0.0.1:${port[1]}#" \
      -e "s#server node2:7002#server 127.0.0.1:${port[2]}#" \
      -e "s#server node3:7003#server 127.0.0.1:${port[3]}#" \
      -e "s#listen 7878;#listen 127.0.0.1:$lb_port;#" \
      -e "s#access_log /dev/stdout#access_log $work/nginx-access.log#" \
      -e "s#error_log /dev/stderr#error_log $work/nginx-error.log#" \
      -e "s#worker_processes auto;#worker_processes 1;#" \
      "$here/nginx.conf"
} >"$conf"
for want in "127.0.0.1:${port[1]}" "127.0.0.1:${port[2]}" "127.0.0.1:${port[3]}" "listen 127.0.0.1:$lb_port"; do
  grep -q "$want" "$conf" || fail "deploy/nginx.conf no longer has the lines this script rewrites ($want)"
done
nginx -t -q -p "$work" -e "$work/nginx-error.log" -c "$conf" -g "pid $work/nginx.pid;" \
  >>"$work/nginx-error.log" 2>&1 || fail "nginx -t refused the configuration"
nginx -p "$work" -e "$work/nginx-error.log" -c "$conf" -g "pid $work/nginx.pid; daemon off;" \
  >>"$work/nginx-error.log" 2>&1 &
nginx_pid=$!
deadline=$(( $(date +%s) + NGINX_WAIT_S ))
until port_in_use "$lb_port"; do
  [ "$(date +%s)" -lt $deadline ] || fail "nginx did not listen on $lb_port within $NGINX_WAIT_S s"
  kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited"
  sleep 0.1
done
say "nginx ($(nginx -v 2>&1 | sed 's#.*/##')) listens on 127.0.0.1:$lb_port, stream upstream over the three nodes"

# --- sell through nginx --------------------------------------------------------------------------
cli() {
  timeout "$CLI_TIMEOUT_S" "$client_bin" --addr "127.0.0.1:$lb_port" --token "$token" --json "$@"
}
json_field() { sed -n "s/^ *\"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n1; }
# Which node nginx sent the last finished session to: the last address of $upstream_addr
# ("a, b" when the first node tried did not accept).
last_upstream() {
  # nginx logs a stream session when it ends; give it a moment.
  sleep 0.3
  tail -n 1 "$work/nginx-access.log" 2>/dev/null \
    | sed -n 's/.*upstream=\(.*\) status=.*/\1/p' | awk -F', ' '{print $NF}'
}
node_of_addr() {
  local addr=$1 id
  for id in 1 2 3; do
    [ "$addr" = "127.0.0.1:${port[$id]}" ] && { echo "$id"; return 0; }
  done
  echo "?"
}
# A show whose sales window is open (`cinebook shows` lists only those) and that has two
# standard seats: the sample's week starts today, so its first shows may already have started,
# and some screens have only premium or recliner seats.
sell() {
  local label=$1 out hold code show
  out=$(cli shows) || fail "$label: shows failed: $out"
  for show in $(printf '%s\n' "$out" | sed -n 's/^ *"id": *\([0-9]*\),\{0,1\}$/\1/p' | head -n 20); do
    out=$(cli hold "$show" --best 2) && break
  done
  [ -n "${show:-}" ] || fail "$label: no show on sale"
  printf '%s\n' "$out" | grep -q '"hold_id"' || fail "$label: hold failed: $out"
  hold=$(printf '%s\n' "$out" | json_field hold_id)
  [ -n "$hold" ] || fail "$label: no hold id in: $out"
  out=$(cli confirm "$hold" --pay cash) || fail "$label: confirm failed: $out"
  code=$(printf '%s\n' "$out" | json_field code)
  [ -n "$code" ] || fail "$label: no booking code in: $out"
  echo "$code"
}

code1=$(sell "first sale")
routed=$(node_of_addr "$(last_upstream)")
say "sale 1 through nginx: booking $code1; nginx routed this client to node $routed (leader: node $first_leader)"
if [ "$routed" != "$first_leader" ]; then
  say "node $routed is a follower: the hold was answered NotLeader and the CLI followed it to node $first_leader"
fi
[ "$routed" != "?" ] || fail "cannot tell from the nginx access log which node served the client"

# --- kill the node nginx routes to ---------------------------------------------------------------
victim=$routed
kill -9 "${node_pid[$victim]}"
wait "${node_pid[$victim]}" 2>/dev/null || true
unset "node_pid[$victim]"
killed_at=$(date +%s%N)
say "SIGKILLed node $victim$([ "$victim" = "$first_leader" ] && echo ' (the leader)')"

code2=$(sell "sale after the kill")
moved_ms=$(( ($(date +%s%N) - killed_at) / 1000000 ))
rerouted=$(node_of_addr "$(last_upstream)")
[ "$rerouted" != "$victim" ] || fail "nginx still routes to the killed node $victim"
wait_for_leader || fail "no leader after the kill"
second_leader=$(leader)
say "sale 2 through nginx: booking $code2, $moved_ms ms after the kill; nginx now routes to node $rerouted, node $second_leader leads"
if [ "$victim" = "$first_leader" ]; then
  [ "$second_leader" != "$victim" ] || fail "the killed leader still leads"
fi

# --- if the leader is still the first one, kill it too: the last node must take over ------------
codes=("$code1" "$code2")
if [ "$victim" != "$first_leader" ]; then
  kill -9 "${node_pid[$first_leader]}"
  wait "${node_pid[$first_leader]}" 2>/dev/null || true
  unset "node_pid[$first_leader]"
  killed_at=$(date +%s%N)
  say "SIGKILLed node $first_leader (the leader) as well"
  code3=$(sell "sale after the leader's kill")
  moved_ms=$(( ($(date +%s%N) - killed_at) / 1000000 ))
  wait_for_leader || fail "no leader after the leader's kill"
  second_leader=$(leader)
  rerouted=$(node_of_addr "$(last_upstream)")
  [ "$rerouted" = "$second_leader" ] || fail "nginx routes to node $rerouted, not the last node $second_leader"
  say "sale 3 through nginx: booking $code3, $moved_ms ms after the kill; node $second_leader (the last one) leads and serves nginx's traffic"
  codes+=("$code3")
fi

# --- the database has every sale -----------------------------------------------------------------
in_list=$(printf "'%s'," "${codes[@]}"); in_list=${in_list%,}
distinct=$(printf '%s\n' "${codes[@]}" | sort -u | wc -l)
[ "$distinct" = ${#codes[@]} ] || fail "two sales have the same booking code: ${codes[*]}"
stored=$(sql "$db_name" -e "SELECT COUNT(*) FROM bookings WHERE code IN ($in_list) AND status = 'confirmed'")
[ "$stored" = ${#codes[@]} ] || fail "expected ${#codes[@]} confirmed bookings in MySQL, found $stored"
seats=$(sql "$db_name" -e "SELECT COUNT(DISTINCT show_id, seat_id) FROM booking_seats WHERE code IN ($in_list)")
[ "$seats" = $(( 2 * ${#codes[@]} )) ] || fail "expected $(( 2 * ${#codes[@]} )) distinct seats for ${#codes[@]} sales of 2, found $seats"
sold=$(http_get "${metrics_port[$second_leader]}" /metrics | sed -n 's/^cinebook_seats_sold_total \([0-9]*\)$/\1/p')
say "MySQL has all ${#codes[@]} bookings (${codes[*]}) confirmed on $seats distinct seats; node $second_leader's cinebook_seats_sold_total is ${sold:-?}"
say "PASSED"
