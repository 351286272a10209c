#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from fixtures/ (the corpora themselves are not committed).
set -euo pipefail
cd "$(dirname "$0")"
fx=../fixtures
mkdir -p corpus/config corpus/error_line corpus/access_line corpus/snapshot
find "$fx/configs" -type f | while read -r f; do
  cp "$f" "corpus/config/$(echo "${f#$fx/configs/}" | tr / _)"
done
cp "$fx"/logs/*.conf corpus/config/ 2>/dev/null || true
# Error logs: whole files, and chunks of 20 lines so each seed stays small.
for f in "$fx"/logs/*.log "$fx"/logs/lab/*.log; do
  [ -f "$f" ] || continue
  split -l 20 -d "$f" "corpus/error_line/$(basename "$f")."
done
# Access logs: the combined template on the first line, then recorded lines.
for f in $(find "$fx/access" -type f | sort); do
  { echo '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
    head -n 20 "$f"; } > "corpus/access_line/$(basename "$f")"
done
cp "$fx"/snapshots/*.json corpus/snapshot/
echo "seeded: $(for d in corpus/*; do printf '%s=%s ' "$(basename "$d")" "$(ls "$d" | wc -l)"; done)"
