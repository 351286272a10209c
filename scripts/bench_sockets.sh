#!/usr/bin/env bash
# Listeners at scale: `badgw diagnose` on a host holding 50,000 established loopback TCP
# connections, against `ss -ltnp` (which reads listeners the same way: sock_diag filtered
# to LISTEN in the kernel, plus a walk of /proc/*/fd for the owners), in the same run.
#   cargo build --release --locked && sudo scripts/bench_sockets.sh [CONNECTIONS]
# Traffic stays on 127.0.0.1; everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
P=$(mktemp -d /tmp/badgw-bench-XXXXXX); chmod 755 "$P"; mkdir -p "$P/logs" "$P/conf"
FRONT=$((20000 + RANDOM % 10000)); BACK=$((FRONT + 1)); HOLD=$((FRONT + 2))
cat > "$P/conf/nginx.conf" <<CONF
worker_processes 1; pid $P/nginx.pid; error_log $P/logs/error.log;
events { worker_connections 64; }
http { access_log $P/logs/access.log; client_body_temp_path $P/cb; proxy_temp_path $P/px;
  fastcgi_temp_path $P/fc; uwsgi_temp_path $P/uw; scgi_temp_path $P/sc;
  server { listen 127.0.0.1:$FRONT; server_name shop.example.test;
    location / { proxy_pass http://127.0.0.1:$BACK; } } }
CONF
"$NGINX" -p "$P" -c "$P/conf/nginx.conf" -e "$P/logs/error.log"
HOLDER=
cleanup() { [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null; kill "$(cat "$P/nginx.pid")" 2>/dev/null; rm -rf "$P"; }
trap cleanup EXIT
sleep 0.3
curl -s -o /dev/null -H 'Host: shop.example.test' "http://127.0.0.1:$FRONT/" || true

measure() {
  hyperfine -N --warmup 2 --runs 15 -i --export-markdown "$P/$1.md" \
    "target/release/badgw diagnose --site shop.example.test --json" \
    "ss -ltnp"
  cat "$P/$1.md"
}
echo "== without extra sockets"; measure idle

# N established loopback connections (N/2 per server port, so the ephemeral range suffices),
# both ends held by one process: 2N descriptors for the /proc/*/fd walk, N*2 rows in
# /proc/net/tcp.
ulimit -n $((2 * N + 1024))
python3 - "$N" "$HOLD" <<'PY' > "$P/holder.out" &
import socket, sys, time
n, port = int(sys.argv[1]), int(sys.argv[2])
servers = []
for p in (port, port + 1000):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", p)); s.listen(4096); servers.append(s)
held = []
for i in range(n):
    srv = servers[i % 2]
    c = socket.create_connection(srv.getsockname()); a, _ = srv.accept()
    held += [c, a]
print("READY", flush=True)
time.sleep(3600)
PY
HOLDER=$!
for _ in $(seq 600); do grep -q READY "$P/holder.out" 2>/dev/null && break; sleep 0.5; done
grep -q READY "$P/holder.out" || { echo "holder did not open $N connections"; exit 1; }
echo "== with $N established loopback connections ($(wc -l < /proc/net/tcp) rows in /proc/net/tcp)"
measure loaded
