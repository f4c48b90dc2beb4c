#!/usr/bin/env bash
# ESP (am53c974) migration from QEMU 5.2 (Debian bullseye, run through its
# sysroot wrapper of scripts/fetch-suites) to the later pinned builds, and
# back, on a never-started guest: what FINDINGS.md F1 and the waivers
# esp-rework-* say about streams of QEMU 5.2. Prints each destination's verdict.
# Usage: abi-db/findings/esp-migration-5.2.sh [MACHINE]
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
machine=${1:-pc-q35-5.2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin() { # LABEL: the binary (the sysroot wrapper for builds of other suites)
  if [ -x "$FIX/qemu-$1/bin/qemu-system-x86_64" ]; then echo "$FIX/qemu-$1/bin/qemu-system-x86_64"
  else echo "$FIX/qemu-$1/usr/bin/qemu-system-x86_64"; fi
}
qemu() { # LABEL ARGS...
  local l=$1; shift
  "$(bin "$l")" -L "$FIX/firmware" -L "$FIX/qemu-$l/usr/share/qemu" -M "$machine" -accel tcg \
    -nodefaults -display none -S "$@"
}
migrate() { # NAME SRC DST DEVICE-ARGS...
  local name=$1 src=$2 dst=$3; shift 3
  local stream="$work/$name.mig"
  { echo "migrate \"exec:cat > $stream\""; sleep 3; echo quit; } | qemu "$src" -monitor stdio "$@" >/dev/null 2>&1
  local out
  out=$({ sleep 4; echo "info status"; sleep 1; echo quit; } |
    timeout 30 bash -c "$(declare -f bin qemu); FIX='$FIX'; machine='$machine'; qemu $dst -monitor stdio -incoming 'exec:cat $stream' $*" 2>&1 || true)
  if grep -q "VM status: paused" <<<"$out" && ! grep -qi "error\|fail" <<<"$out"; then
    echo "$name: $src -> $dst ($machine): loaded"
  else
    echo "$name: $src -> $dst ($machine): FAILED: $(grep -i "error\|fail\|missing" <<<"$out" | head -2 | tr -d '\r' | tr '\n' ' ')"
  fi
}
for l in 5.2 7.2 10.0 11.1; do echo "$l: $("$(bin "$l")" --version | head -n1)"; done
migrate control-no-esp 5.2 7.2
migrate control-same-release 5.2 5.2 -device am53c974
migrate esp 5.2 7.2 -device am53c974
migrate esp 5.2 10.0 -device am53c974
migrate esp 5.2 11.1 -device am53c974
migrate esp-back 7.2 5.2 -device am53c974
