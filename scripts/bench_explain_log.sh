#!/usr/bin/env bash
# Benchmarks `explain-log --json` against grep on the same file, in one run:
#   scripts/bench_explain_log.sh /tmp/error-1g.log
# Generate the file first (never inside the repository):
#   scripts/gen_error_log.py --size 1G --out /tmp/error-1g.log
# BADGW defaults to target/release/badgw explain-log: cargo build --release --locked
# Reports wall time (hyperfine when installed, else best of 5), peak RSS (/usr/bin/time -v),
# and ratios to `grep -c upstream`.
set -euo pipefail
FILE=${1:?usage: $0 LOGFILE}
cd "$(dirname "$0")/.."
BADGW=${BADGW:-target/release/badgw explain-log}
MSGS='connect\(\) (to [^ ]+ )?failed \([0-9]+|upstream timed out|upstream prematurely closed|upstream sent [a-z]+|no live upstreams|SSL_do_handshake\(\) failed|Primary script unknown|could not be resolved'
# Output goes to a file, not /dev/null: GNU grep stops at the first match when it sees
# its output is /dev/null, which would time nothing.
declare -A CMD=(
  [badgw]="$BADGW $FILE --json >/tmp/bench.out"
  [badgw_since_15m]="$BADGW $FILE --since 15m --json >/tmp/bench.out"
  [grep_c]="LC_ALL=C grep -c upstream $FILE >/tmp/bench.out"
  [grep_oE_sort_uniq]="LC_ALL=C grep -oE '$MSGS' $FILE | sort | uniq -c >/tmp/bench.out"
)
ORDER=(badgw badgw_since_15m grep_c grep_oE_sort_uniq)
echo "file: $FILE ($(stat -c %s "$FILE") bytes, $(nproc) cores)"
cat "$FILE" >/dev/null   # warm the page cache
declare -A WALL
best_of() {  # best wall time of N runs, seconds
  local n=$1; shift; local best=999999
  for _ in $(seq "$n"); do
    local s e; s=$(date +%s.%N); bash -c "$*" || true; e=$(date +%s.%N)
    best=$(echo "$e - $s" | bc -l | awk -v b="$best" '{print ($1<b)?$1:b}')
  done
  echo "$best"
}
for k in "${ORDER[@]}"; do
  if command -v hyperfine >/dev/null; then
    hyperfine -N --warmup 1 --runs 5 -i --export-json /tmp/bench-$k.json "bash -c \"${CMD[$k]//\"/\\\"}\"" >/dev/null 2>&1 || true
    WALL[$k]=$(python3 -c "import json;print(min(json.load(open('/tmp/bench-$k.json'))['results'][0]['times']))")
  else
    WALL[$k]=$(best_of 5 "${CMD[$k]}")
  fi
  RSS=$( { /usr/bin/time -v bash -c "${CMD[$k]}" ; } 2>&1 >/dev/null | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' || true)
  printf '%-20s wall %8.3f s   peak RSS %8s KiB   command: %s\n' "$k" "${WALL[$k]}" "$RSS" "${CMD[$k]}"
done
ratio() { echo "${WALL[$1]} / ${WALL[$2]}" | bc -l | xargs printf '%.2f'; }
echo "ratio badgw / grep -c upstream:           $(ratio badgw grep_c)"
echo "ratio badgw / grep -oE | sort | uniq -c:  $(ratio badgw grep_oE_sort_uniq)"
echo "ratio badgw --since 15m / grep -c:        $(ratio badgw_since_15m grep_c)"
