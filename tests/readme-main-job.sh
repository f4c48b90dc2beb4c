#!/usr/bin/env bash
# README's main job (`scripts/demo`) as a test: it must run to its end and
# print what README promises, from the data: QEMU 7.2 clean against its own
# records (exit 0, no break or warning), QEMU 10.0 failing on the real break
# of abi-db/FINDINGS.md (exit 1), and the same for virt-7.2 on
# qemu-system-aarch64 7.2 (exit 0) and 10.0.2 (exit 1).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! "$repo/scripts/demo" > "$out" 2>&1; then
  cat "$out"
  echo "FAIL: scripts/demo exited non-zero" >&2
  exit 1
fi
# The exit-status lines, in the order demo runs the four checks.
got=$(grep -E '^\(exit [0-9]+' "$out" | sed -E 's/^\(exit ([0-9]+).*/\1/' | tr '\n' ' ')
want="0 1 0 1 "
if [ "$got" != "$want" ]; then
  cat "$out"
  echo "FAIL: scripts/demo check statuses were '$got', README promises '$want'" >&2
  exit 1
fi
# The clean runs report no break and no warning; the failing ones name the
# findings' facts (F1: the ESP's drq_state; F5: the PPTT cluster level).
clean=$(grep -cE '\(0 break, 0 warn,' "$out" || true)
if [ "$clean" -lt 2 ]; then
  cat "$out"; echo "FAIL: a clean run of scripts/demo reported breaks or warnings" >&2; exit 1
fi
for fact in 'esp.drq_state' 'PPTT'; do
  if ! grep -q "$fact" "$out"; then
    cat "$out"; echo "FAIL: scripts/demo does not report $fact" >&2; exit 1
  fi
done
echo "README main job: scripts/demo ran; statuses $got"
