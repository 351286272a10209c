#!/usr/bin/env bash
# explain-log against `grep -c upstream` at several upstream-failure densities, same run:
#   for d in 0.05 0.30 0.70; do scripts/gen_error_log.py --size 1G --density $d --out /tmp/err-$d.log; done
#   scripts/bench_densities.sh /tmp/err-0.05.log /tmp/err-0.30.log /tmp/err-0.70.log
# For each file: wall and CPU (user+sys) of both, mean of 3 hyperfine runs after a warm-up
# (interleaved, so machine load hits both alike), badgw's peak RSS, and the ratios. The
# per-event cost is the marginal CPU per classified failure between the sparsest and the
# densest file (what one more failure line costs, scanning included).
set -euo pipefail
cd "$(dirname "$0")/.."
BADGW=${BADGW:-target/release/badgw}
declare -a EV CPU
i=0
for f in "$@"; do
  cat "$f" >/dev/null
  hyperfine -N -i --warmup 1 --runs 3 --export-json /tmp/bench-dens.json \
    "bash -c 'LC_ALL=C grep -c upstream $f >/tmp/bench-g.out'" \
    "bash -c '$BADGW explain-log $f --json >/tmp/bench-b.out'" >/dev/null 2>&1
  read -r gw gc bw bc < <(python3 -c "
import json
r=json.load(open('/tmp/bench-dens.json'))['results']
print(r[0]['mean'], r[0]['user']+r[0]['system'], r[1]['mean'], r[1]['user']+r[1]['system'])")
  ev=$(python3 -c "import json;print(json.load(open('/tmp/bench-b.out'))['lines_failures'])")
  lines=$(python3 -c "import json;print(json.load(open('/tmp/bench-b.out'))['lines_total'])")
  rss=$( { /usr/bin/time -f "%M" "$BADGW" explain-log "$f" --json >/dev/null || true; } 2>&1 | tail -1)
  printf '%s: %s lines, %s failures (%.0f%%)\n' "$f" "$lines" "$ev" "$(echo "100*$ev/$lines" | bc -l)"
  printf '  grep -c upstream  wall %.3f s  cpu %.3f s\n' "$gw" "$gc"
  printf '  badgw --json      wall %.3f s  cpu %.3f s  peak RSS %s KiB\n' "$bw" "$bc" "$rss"
  printf '  ratio badgw/grep  wall %.2f  cpu %.2f\n' "$(echo "$bw/$gw" | bc -l)" "$(echo "$bc/$gc" | bc -l)"
  EV[$i]=$ev; CPU[$i]=$bc; i=$((i+1))
done
if [ "$i" -ge 2 ]; then
  n=$((i-1))
  printf 'marginal cost per failure event: %.0f ns\n' \
    "$(echo "(${CPU[$n]} - ${CPU[0]}) * 1000000000 / (${EV[$n]} - ${EV[0]})" | bc -l)"
fi
