#!/bin/sh
# Stand-in for QEMU whose serial capture is damaged after the boot.
#
# Runs $MABI_REAL_QEMU with all arguments to completion. If the arguments
# contain `-serial file:PATH` (a boot), it then flips one base64 character of
# the first `MABI1 D ` data line in PATH, the way a flaky serial line would,
# and exits with QEMU's status. Exits 97 if there was no data line to damage.
: "${MABI_REAL_QEMU:?set MABI_REAL_QEMU to the real qemu-system binary}"
serial=
prev=
for arg in "$@"; do
    if [ "$prev" = "-serial" ]; then
        case "$arg" in file:*) serial=${arg#file:} ;; esac
    fi
    prev=$arg
done
if [ -z "$serial" ]; then
    exec "$MABI_REAL_QEMU" "$@"
fi
"$MABI_REAL_QEMU" "$@"
status=$?
if [ "$status" -ne 0 ]; then
    exit "$status"
fi
perl -i -pe '
    if (!$done && s/^(MABI1 D \d+ [0-9a-f]+ )(.)/$1 . ($2 eq "A" ? "B" : "A")/e) { $done = 1 }
    END { $? = 97 unless $done }
' "$serial" || {
    echo "qemu-corrupt-stream: no MABI1 D line found in $serial" >&2
    exit 97
}
exit 0
