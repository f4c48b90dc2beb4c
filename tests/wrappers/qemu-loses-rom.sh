#!/bin/sh
# Stand-in for QEMU whose boots run with other data directories: a boot
# (arguments contain -kernel) runs the real QEMU with every -L replaced by
# the one directory $MABI_WRAPPER_DATA, which lacks a file the boot loads.
# Queries (-version, -machine help, QMP) run normally. machine-abi resolved
# the files against its own -L list, so only QEMU's stderr can tell.
: "${MABI_REAL_QEMU:?set MABI_REAL_QEMU to the real qemu-system binary}"
: "${MABI_WRAPPER_DATA:?set MABI_WRAPPER_DATA to the data directory of boots}"
boot=no
for arg in "$@"; do
    [ "$arg" = "-kernel" ] && boot=yes
done
[ "$boot" = no ] && exec "$MABI_REAL_QEMU" "$@"
skip=no
for arg in "$@"; do
    shift
    if [ "$skip" = yes ]; then
        skip=no
        continue
    fi
    if [ "$arg" = "-L" ]; then
        skip=yes
        continue
    fi
    set -- "$@" "$arg"
done
exec "$MABI_REAL_QEMU" -L "$MABI_WRAPPER_DATA" "$@"
