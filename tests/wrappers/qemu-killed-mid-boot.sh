#!/bin/sh
# Stand-in for QEMU that is killed with SIGKILL ~1.5 s into a boot.
#
# Runs $MABI_REAL_QEMU with all arguments. When they contain -kernel (a boot,
# not `-version` or `-machine help`), a background job sends SIGKILL to this
# process, which by then is QEMU itself (exec keeps the pid), after
# ${MABI_KILL_AFTER:-1.5} seconds.
: "${MABI_REAL_QEMU:?set MABI_REAL_QEMU to the real qemu-system binary}"
for arg in "$@"; do
    if [ "$arg" = "-kernel" ]; then
        pid=$$
        (sleep "${MABI_KILL_AFTER:-1.5}" && kill -KILL "$pid") </dev/null >/dev/null 2>&1 &
        break
    fi
done
exec "$MABI_REAL_QEMU" "$@"
