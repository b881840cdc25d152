#!/usr/bin/env bash
# kill -9 `sharpgrad train` and `sharpgrad prune` at random points, then resume (train) or rerun (prune) and compare
# the final files with an uninterrupted run's: model.safetensors, sparsity.txt byte for byte, model.json and
# metrics.csv byte for byte once the per-epoch wall times ("seconds") are left out; no temporary file may be left.
#   tools/fault_kill.sh [KILLS_EACH (20)] [SEED (1)]
set -euo pipefail
n=${1:-20}
RANDOM=${2:-1}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dotnet build "$root/src/Sharpgrad.Cli" -c Release -nologo -v q >/dev/null
sg() { dotnet "$root/src/Sharpgrad.Cli/bin/Release/net10.0/Sharpgrad.Cli.dll" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
train=(train --limit 1500 --test-limit 300 --epochs 2 --batch-size 64 --threads 1)
prune=(prune --sparsity 0.5 --finetune-epochs 0.1 --batch-size 64 --threads 1)

strip() { # a file without its wall times
  case "$1" in
    *.json) grep -v -i '"seconds"' "$1" ;;
    *.csv) cut -d, -f1-5,7 "$1" ;;
    *) cat "$1" ;;
  esac
}
same() { # same final files in $1 and $2
  for f in "${@:3}"; do
    [ -f "$2/$f" ] || { echo "missing $f"; return 1; }
    cmp -s <(strip "$1/$f") <(strip "$2/$f") || { echo "differs: $f"; return 1; }
  done
  if find "$2" -name '*.tmp*' | grep -q .; then echo "temporary file left: $(find "$2" -name '*.tmp*' | head -1)"; return 1; fi
}
ms() { date +%s%3N; }

t0=$(ms); sg "${train[@]}" --out "$work/ref" >/dev/null; ttrain=$(( $(ms) - t0 ))
t0=$(ms); sg "${prune[@]}" --checkpoint "$work/ref" --out "$work/pref" >/dev/null; tprune=$(( $(ms) - t0 ))
echo "reference runs: train ${ttrain} ms, prune ${tprune} ms"

run_case() { # kind, attempt
  local kind=$1 out="$work/k" delay state
  rm -rf "$out"
  if [ "$kind" = train ]; then delay=$(( RANDOM % (ttrain + 200) )); sg "${train[@]}" --out "$out" >/dev/null 2>&1 &
  else delay=$(( RANDOM % (tprune + 200) )); sg "${prune[@]}" --checkpoint "$work/ref" --out "$out" >/dev/null 2>&1 & fi
  local pid=$!
  sleep "$(printf '0.%03d' 0)"; sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
  kill -9 "$pid" 2>/dev/null && state=killed || state=finished
  wait "$pid" 2>/dev/null || true
  local left; left=$(find "$out" -name '*.tmp*' 2>/dev/null | wc -l)
  if [ "$kind" = train ]; then
    if [ -f "$out/checkpoint.safetensors" ]; then how=resumed; sg train --resume "$out" >/dev/null 2>"$work/err" || { cat "$work/err"; return 1; }
    else how=rerun; sg "${train[@]}" --out "$out" --overwrite >/dev/null 2>"$work/err" || { cat "$work/err"; return 1; }; fi
    same "$work/ref" "$out" model.safetensors model.json metrics.csv || return 1
  else
    how=rerun; sg "${prune[@]}" --checkpoint "$work/ref" --out "$out" >/dev/null 2>"$work/err" || { cat "$work/err"; return 1; }
    same "$work/pref" "$out" model.safetensors model.json sparsity.txt || return 1
  fi
  echo "$kind: $state at ${delay} ms, $left temp file(s) after the kill, $how: identical, none left"
}

for kind in train prune; do
  ok=0
  for i in $(seq 1 "$n"); do
    if run_case "$kind"; then ok=$((ok + 1)); else echo "$kind: case $i FAILED"; fi
  done
  echo "== $kind: $ok of $n kill -9 cases ended with identical final files and no temporary file"
done
