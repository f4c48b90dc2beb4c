#!/bin/sh
# Build the freestanding guest image: bare-probe/out/bare-probe.bin
# (flat Multiboot v1 image, a.out-kludge header, loaded at 1 MiB).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/guest"
nice -n 10 cargo build --release "$@"
mkdir -p "$here/out"
objcopy -O binary target/release/bare-probe "$here/out/bare-probe.bin"
ls -l "$here/out/bare-probe.bin" >&2
