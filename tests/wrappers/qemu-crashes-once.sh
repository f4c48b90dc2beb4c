#!/bin/sh
# Stand-in for QEMU whose first boot aborts (SIGABRT, as QEMU's TCG
# assertions do) and whose later boots run normally: the shape of the
# intermittent `iotlb_to_section` assertion seen with QEMU 10.0.2.
#
# The first boot (arguments contain -kernel) creates $MABI_CRASH_MARKER and
# aborts after ~1 s; any boot that finds the marker runs $MABI_REAL_QEMU.
: "${MABI_REAL_QEMU:?set MABI_REAL_QEMU to the real qemu-system binary}"
: "${MABI_CRASH_MARKER:?set MABI_CRASH_MARKER to a path that does not exist yet}"
for arg in "$@"; do
    if [ "$arg" = "-kernel" ] && mkdir "$MABI_CRASH_MARKER" 2>/dev/null; then
        pid=$$
        (sleep 1 && kill -ABRT "$pid") </dev/null >/dev/null 2>&1 &
        break
    fi
done
exec "$MABI_REAL_QEMU" "$@"
