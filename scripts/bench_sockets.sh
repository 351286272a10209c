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
HOLDERS=()
cleanup() { kill "$(cat "$P/nginx.pid")" 2>/dev/null; rm -rf "$P"; }
trap 'cleanup' EXIT
sleep 0.3
curl -s -o /dev/null -H 'Host: shop.example.test' "http://127.0.0.1:$FRONT/" || true

measure() {
  hyperfine -N --warmup 2 --runs 15 -i --export-markdown "$P/$1.md" \
    "target/release/badgw diagnose --site shop.example.test --json" \
    "ss -ltnp"
  cat "$P/$1.md"
  # CPU time (user+sys) of each, mean of 5 runs: comparable when other work loads the
  # machine and wall times are mostly waiting for a core.
  for cmd in "target/release/badgw diagnose --site shop.example.test --json" "ss -ltnp"; do
    tot=0
    for _ in 1 2 3 4 5; do
      /usr/bin/time -o "$P/cpu" -f '%U %S' $cmd > /dev/null 2>&1 || true
      t=$(tail -1 "$P/cpu")
      tot=$(python3 -c "import sys; u,s=map(float,'$t'.split()); print($tot+u+s)")
    done
    python3 -c "print('cpu user+sys, mean of 5: %.3f s  %s' % ($tot/5, '$cmd'))"
  done
}
echo "== without extra sockets"; measure idle

# N established loopback connections, both ends held by holder processes of at most 9000
# connections each (18000 descriptors: under a 20000 open-files limit), one server port
# per holder: 2N descriptors for the /proc/*/fd walk, 2N rows in /proc/net/tcp.
HOLDERS=()
cleanup() { for h in "${HOLDERS[@]}"; do kill "$h" 2>/dev/null; done; kill "$(cat "$P/nginx.pid")" 2>/dev/null; rm -rf "$P"; }
left=$N; k=0
while [ "$left" -gt 0 ]; do
  n=$(( left > 9000 ? 9000 : left )); left=$((left - n)); k=$((k + 1))
  python3 - "$n" "$((HOLD + k))" <<'PY' > "$P/holder.$k.out" &
import socket, sys, time
n, port = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(4096)
held = []
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port)); a, _ = srv.accept()
    held += [c, a]
print("READY", flush=True)
time.sleep(3600)
PY
  HOLDERS+=($!)
done
for i in $(seq 1 "$k"); do
  for _ in $(seq 600); do grep -q READY "$P/holder.$i.out" 2>/dev/null && break; sleep 0.5; done
  grep -q READY "$P/holder.$i.out" || { echo "holder $i did not open its connections"; exit 1; }
done
echo "== with $N established loopback connections ($(wc -l < /proc/net/tcp) rows in /proc/net/tcp)"
measure loaded
