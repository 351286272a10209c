#!/usr/bin/env bash
# Times `badgw diagnose --site shop.example.test` (no other flag: discovery from the running
# master) on a real nginx whose upstream app was just killed, against `curl` of the site.
#   cargo build --release --locked && scripts/bench_diagnose.sh
set -euo pipefail
cd "$(dirname "$0")/.."
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
P=$(mktemp -d /tmp/badgw-bench-XXXXXX); chmod 755 "$P"; mkdir -p "$P/logs" "$P/conf"
FRONT=$((20000 + RANDOM % 10000)); BACK=$((FRONT + 1))
cat > "$P/conf/nginx.conf" <<CONF
worker_processes 1; pid $P/nginx.pid; error_log $P/logs/error.log;
events { worker_connections 64; }
http { access_log $P/logs/access.log; client_body_temp_path $P/cb; proxy_temp_path $P/px;
  fastcgi_temp_path $P/fc; uwsgi_temp_path $P/uw; scgi_temp_path $P/sc;
  server { listen 127.0.0.1:$FRONT; server_name shop.example.test;
    location / { proxy_pass http://127.0.0.1:$BACK; } } }
CONF
"$NGINX" -p "$P" -c "$P/conf/nginx.conf" -e "$P/logs/error.log"
trap 'kill $(cat "$P/nginx.pid") 2>/dev/null; rm -rf "$P"' EXIT
sleep 0.3
# The app "was just killed": nothing listens on $BACK; one request puts the 502 in the log.
curl -s -o /dev/null -H 'Host: shop.example.test' "http://127.0.0.1:$FRONT/" || true
target/release/badgw diagnose --site shop.example.test | head -12 || true
hyperfine -N --warmup 2 --runs 20 -i \
  "target/release/badgw diagnose --site shop.example.test --json" \
  "curl -s -o /dev/null -H 'Host: shop.example.test' http://127.0.0.1:$FRONT/"
