#!/bin/sh
# Stand-in for QEMU that boots normally but fails when asked for a machine
# type's host-side facts: with a QMP monitor for a machine type (not the
# machine-less `-M none` that asks for the target) it prints garbage and
# exits 1, and -dump-vmstate crashes with SIGABRT. Queries and boots run
# the real QEMU.
: "${MABI_REAL_QEMU:?set MABI_REAL_QEMU to the real qemu-system binary}"
qmp=no
none=no
prev=
for arg in "$@"; do
    [ "$arg" = "-qmp" ] && qmp=yes
    [ "$prev" = "-M" ] && [ "$arg" = "none" ] && none=yes
    [ "$arg" = "-dump-vmstate" ] && kill -ABRT $$
    prev=$arg
done
if [ "$qmp" = yes ] && [ "$none" = no ]; then
    echo "not a QMP greeting"
    exit 1
fi
exec "$MABI_REAL_QEMU" "$@"
