# Shared paths for the scripts: source it. Fixtures come from scripts/fetch-qemu.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIX=${MACHINE_ABI_FIXTURES:-$repo/.cache/fixtures}
MABI="$repo/target/release/machine-abi"
PROBE="$repo/target/x86_64-unknown-linux-gnu/release/guest-probe"
# qemu_args VERSION: the --qemu/--data-dir arguments for one release. x86 PC
# machine types (pc-*) boot the bare probe, built into machine-abi: no guest
# kernel needed.
qemu_args() {
  echo --qemu "$FIX/qemu-$1/usr/bin/qemu-system-x86_64" --data-dir "$FIX/firmware" \
    --data-dir "$FIX/qemu-$1/usr/share/qemu"
}
# linux_args: what the Linux probe needs on top (kernel and static probe);
# with --probe-kind linux every machine type boots it.
linux_args() {
  echo --kernel "$FIX/kernel/vmlinuz" --probe "$PROBE"
}
build_all() {
  (cd "$repo" && cargo build --release --locked -q) || return 1
  "$repo/scripts/build-probe" -q >/dev/null || return 1
}
# aarch64 (scripts/fetch-aarch64, scripts/build-probe --arch aarch64): Arm's
# virt machine types boot the cross-built Linux probe under the arm64 kernel.
AFIX="$FIX/aarch64"
APROBE="$repo/target/aarch64-unknown-linux-gnu/release/guest-probe"
aarch64_args() {
  echo --qemu "$AFIX/qemu-$1/usr/bin/qemu-system-aarch64" --data-dir "$AFIX/firmware" \
    --data-dir "$AFIX/qemu-$1/usr/share/qemu" --kernel "$AFIX/kernel/vmlinuz" --probe "$APROBE"
}
build_aarch64() {
  "$repo/scripts/build-probe" --arch aarch64 -q >/dev/null || return 1
}
