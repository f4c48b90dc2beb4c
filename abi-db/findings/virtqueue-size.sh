#!/usr/bin/env bash
# Reproduce FINDINGS.md F2: QEMU 10.0.13 (Debian trixie, run through its
# sysroot as scripts/fetch-suites sets it up) gives every virtqueue 1024
# entries, where 10.0.2 and 11.1.3 give each device's own size (virtio-net
# 256/256/64, virtio-scsi 128..., virtio-blk 256). Read independently of
# machine-abi's probes: QEMU's own monitor (`info virtio-queue-status`) on a
# never-started guest, then a real migration 10.0.2 -> 10.0.13 and back,
# with the queue size the destination holds afterwards.
# Usage: abi-db/findings/virtqueue-size.sh [MACHINE]
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
machine=${1:-pc-q35-10.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin() { # LABEL: the binary (the sysroot wrapper for builds of other suites)
  if [ -x "$FIX/qemu-$1/bin/qemu-system-x86_64" ]; then echo "$FIX/qemu-$1/bin/qemu-system-x86_64"
  else echo "$FIX/qemu-$1/usr/bin/qemu-system-x86_64"; fi
}
devs=(-netdev user,id=n0 -device virtio-net-pci,netdev=n0,id=vn -device virtio-scsi-pci,id=vs
  -drive if=none,id=d0,format=raw,file=null-co:// -device virtio-blk-pci,drive=d0,id=vb)
qemu() { # LABEL ARGS...
  local l=$1; shift
  "$(bin "$l")" -L "$FIX/firmware" -L "$FIX/qemu-$l/usr/share/qemu" -M "$machine" -accel tcg \
    -nodefaults -display none -S "${devs[@]}" -monitor stdio "$@"
}
sizes() { # monitor output -> "virtio-net Q0 Q1 Q2 | virtio-scsi Q0 Q1 Q2 | virtio-blk Q0" (vring num)
  tr -d '\r' | awk '/device_name:/{d=$2} /^ *num:/{s[d]=s[d]" "$2}
    END{printf "virtio-net%s | virtio-scsi%s | virtio-blk%s\n", s["virtio-net"], s["virtio-scsi"], s["virtio-blk"]}'
}
queries() {
  for d in vn:3 vs:3 vb:1; do
    for ((q = 0; q < ${d#*:}; q++)); do
      echo "info virtio-queue-status /machine/peripheral/${d%%:*}/virtio-backend $q"
    done
  done
}
for l in 10.0 10.0-trixie 11.1; do
  v=$("$(bin "$l")" --version | head -n1)
  printf '%-12s %-58s %s\n' "$l" "$v" "$({ queries; sleep 1; echo quit; } | qemu "$l" 2>&1 | sizes)"
done
migrate() { # SRC DST
  local stream="$work/$1-$2.mig"
  { echo "migrate \"exec:cat > $stream\""; sleep 3; echo quit; } | qemu "$1" >/dev/null 2>&1
  local out
  out=$({ sleep 4; echo "info status"; queries; sleep 1; echo quit; } |
    timeout 60 bash -c "$(declare -f qemu bin); FIX='$FIX'; machine='$machine'; devs=($(printf '%q ' "${devs[@]}")); qemu $2 -incoming 'exec:cat $stream'" 2>&1 || true)
  local status=FAILED
  grep -q "VM status: paused" <<<"$out" && ! grep -qi "error\|fail" <<<"$out" && status=loaded
  echo "migration $1 -> $2: $status; destination holds: $(sizes <<<"$out")"
}
migrate 10.0 10.0-trixie
migrate 10.0-trixie 10.0
