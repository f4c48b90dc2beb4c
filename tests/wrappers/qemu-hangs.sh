#!/bin/sh
# Stand-in for QEMU whose boots hang: a boot (arguments contain -kernel)
# runs the real QEMU with -S added, so its vCPUs never start and it never
# powers off. Queries (-version, -machine help, QMP) run normally. The
# boot's pid (QEMU's own, exec keeps it) goes to $MABI_PIDFILE if set.
: "${MABI_REAL_QEMU:?set MABI_REAL_QEMU to the real qemu-system binary}"
for arg in "$@"; do
    if [ "$arg" = "-kernel" ]; then
        [ -n "$MABI_PIDFILE" ] && echo $$ >> "$MABI_PIDFILE"
        exec "$MABI_REAL_QEMU" "$@" -S
    fi
done
exec "$MABI_REAL_QEMU" "$@"
