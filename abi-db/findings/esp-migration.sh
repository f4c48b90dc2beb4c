#!/usr/bin/env bash
# Reproduce FINDINGS.md F1: migrate a pc-q35-7.2 guest with an am53c974 (ESP)
# SCSI controller from QEMU 7.2.22 to QEMU 10.0.2 (the pinned builds of
# scripts/fetch-qemu). Prints the destination's verdict; the same run without
# the controller, and 10.0.2 → 10.0.2 with it, are the controls.
# Usage: abi-db/findings/esp-migration.sh [MACHINE]
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
machine=${1:-pc-q35-7.2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
qemu() { # VERSION ARGS...
  local v=$1; shift
  QEMU_MODULE_DIR="$FIX/qemu-$v/usr/lib/x86_64-linux-gnu/qemu" \
    "$FIX/qemu-$v/usr/bin/qemu-system-x86_64" -L "$FIX/firmware" -L "$FIX/qemu-$v/usr/share/qemu" \
    -M "$machine" -accel tcg -nodefaults -display none -S "$@"
}
migrate() { # NAME SRC DST DEVICE-ARGS...
  local name=$1 src=$2 dst=$3; shift 3
  local stream="$work/$name.mig"
  { echo "migrate \"exec:cat > $stream\""; sleep 3; echo quit; } | qemu "$src" -monitor stdio "$@" >/dev/null 2>&1
  local out
  out=$({ sleep 4; echo "info status"; sleep 1; echo quit; } |
    timeout 30 bash -c "$(declare -f qemu); FIX='$FIX'; machine='$machine'; qemu $dst -monitor stdio -incoming 'exec:cat $stream' $*" 2>&1 || true)
  if grep -q "VM status: paused" <<<"$out" && ! grep -qi "error\|fail" <<<"$out"; then
    echo "$name: $src -> $dst: loaded"
  else
    echo "$name: $src -> $dst: FAILED: $(grep -i "error\|fail\|missing" <<<"$out" | head -2 | tr '\n' ' ')"
  fi
}
migrate control-no-esp 7.2 10.0
migrate control-same-release 10.0 10.0 -device am53c974
migrate esp 7.2 10.0 -device am53c974
