#!/bin/sh
# Stand-in for QEMU that hangs when asked for its version: the deadline of
# a query that boots nothing must end it.
for arg in "$@"; do
    [ "$arg" = "-version" ] && exec sleep 1000
done
exec "${MABI_REAL_QEMU:?}" "$@"
