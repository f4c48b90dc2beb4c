#!/usr/bin/env bash
# Proves scripts/fetch-qemu's pin fallback (scripts/fetch-lib.sh) against the
# real Debian archive, with pins that do not exist:
#   1. a gone QEMU build falls back to the newest build of the same upstream
#      release, and says so on stderr (--resolve: nothing fetched);
#   2. a gone kernel ABI package falls back to the newest 6.1 cloud kernel;
#   3. an upstream release the suites do not have fails with a clear error;
#   4. a whole fetch with a gone pin writes the build it used and the
#      substitution into MANIFEST, and a second run takes the fast path
#      (no package lists, no download) and still prints the warning;
#   5. scripts/fetch-suites and scripts/fetch-aarch64 (same rule, shared
#      code) fall back the same way (--resolve): a gone 5.2 build, a gone
#      arm64 kernel ABI package.
# Usage: tests/fetch-fallback.sh [SCRATCH_DIR]   (default: a new temporary
# directory, removed afterwards). Needs the network to the Debian archive and
# root (fetch-qemu installs QEMU's shared libraries when they are missing).
# The .debs of an existing fixture cache ($MACHINE_ABI_FIXTURES or
# .cache/fixtures) are hard-linked in first, so step 4 downloads nothing new.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
fetch="$repo/scripts/fetch-qemu"
if [ -n "${1:-}" ]; then scratch=$1; mkdir -p "$scratch"; else
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/fetch-fallback.XXXXXX"); trap 'rm -rf "$scratch"' EXIT; fi
cache="$scratch/cache"
fixtures=${MACHINE_ABI_FIXTURES:-$repo/.cache/fixtures}
mkdir -p "$cache/debs"
if [ -d "$fixtures/debs" ]; then cp -l "$fixtures"/debs/*.deb "$cache/debs/" 2>/dev/null || cp "$fixtures"/debs/*.deb "$cache/debs/" 2>/dev/null || true; fi

pass=0 fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
not_ok() { echo "FAILED: $*"; fail=$((fail + 1)); }
# run NAME ENV... -- ARGS: run fetch-qemu with env overrides; sets rc, out, err.
run() {
  local name=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  set +e
  env ${envs[@]+"${envs[@]}"} "$fetch" "$@" >"$scratch/$name.out" 2>"$scratch/$name.err"
  rc=$?
  set -e
  out=$(cat "$scratch/$name.out"); err=$(cat "$scratch/$name.err")
}
show() { echo "--- stdout"; echo "$out"; echo "--- stderr"; echo "$err"; }

GONE_QEMU=1:7.2+dfsg-7+deb12u999
echo "== 1. gone QEMU pin $GONE_QEMU (--resolve)"
run resolve-qemu QEMU_OLD_VERSION=$GONE_QEMU -- --resolve "$cache"
if [ $rc = 0 ] && grep -q "^fetch-qemu: WARNING: substituted qemu-system-x86 $GONE_QEMU -> qemu-system-x86 1:7.2+" <<<"$err" \
   && grep -q '^qemu-system-x86 1:7.2+' <<<"$out" && ! grep -q "deb12u999" <<<"$out"; then
  ok "gone 7.2 pin fell back to $(sed -n 's/^qemu-system-x86 \(1:7\.2+.*\)/\1/p' <<<"$out") with a warning"
else not_ok "gone 7.2 pin (rc=$rc)"; show; fi

echo "== 2. gone kernel ABI package (--resolve)"
run resolve-kernel KERNEL_PACKAGE=linux-image-6.1.0-999-cloud-amd64 -- --resolve "$cache"
if [ $rc = 0 ] && grep -q '^fetch-qemu: WARNING: substituted linux-image-6.1.0-999-cloud-amd64 6.1.176-1 -> linux-image-6\.1\.0-[0-9]*-cloud-amd64 6\.1\.' <<<"$err" \
   && grep -q '^linux-image-6\.1\.0-[0-9]*-cloud-amd64 6\.1\.' <<<"$out"; then
  ok "gone kernel pin fell back to $(grep '^linux-image' <<<"$out")"
else not_ok "gone kernel pin (rc=$rc)"; show; fi

echo "== 3. unknown upstream release 7.3"
run unknown QEMU_OLD_VERSION=1:7.3+dfsg-1 -- --resolve "$cache"
if [ $rc != 0 ] && grep -q '^fetch-qemu: error: qemu-system-x86=1:7.3+dfsg-1 is not in the archive, and upstream release 7.3 has no build' <<<"$err"; then
  ok "unknown upstream release failed: $(grep '^fetch-qemu: error' <<<"$err")"
else not_ok "unknown upstream release (rc=$rc)"; show; fi

echo "== 4. whole fetch with the gone pin, then the fast path"
rm -f "$cache/MANIFEST" # a reused SCRATCH_DIR must fetch again
t0=$(date +%s)
run full QEMU_OLD_VERSION=$GONE_QEMU -- "$cache"
t1=$(date +%s)
if [ $rc = 0 ] && grep -q "^fetch-qemu: WARNING: substituted qemu-system-x86 $GONE_QEMU" <<<"$err" \
   && grep -q 'updating private package lists' <<<"$out" \
   && grep -q "^substituted: qemu-system-x86 $GONE_QEMU -> qemu-system-x86 1:7.2+" "$cache/MANIFEST" \
   && grep -q "^qemu-system-x86 7.2: $GONE_QEMU\$" "$cache/MANIFEST" \
   && "$cache/qemu-7.2/usr/bin/qemu-system-x86_64" --version | grep -q 'version 7\.2\.'; then
  ok "fetch with the gone pin: $(( t1 - t0 )) s, MANIFEST records $(grep -c '^substituted:' "$cache/MANIFEST") substitution(s)"
else not_ok "fetch with the gone pin (rc=$rc)"; show; cat "$cache/MANIFEST" 2>/dev/null || true; fi
run again QEMU_OLD_VERSION=$GONE_QEMU -- "$cache"
t2=$(date +%s)
if [ $rc = 0 ] && grep -q '^fetch-qemu: up to date' <<<"$out" && ! grep -q 'updating private package lists' <<<"$out" \
   && grep -q "^fetch-qemu: WARNING: substituted qemu-system-x86 $GONE_QEMU" <<<"$err"; then
  ok "second run: up to date in $(( t2 - t1 )) s, warning repeated"
else not_ok "second run (rc=$rc)"; show; fi

echo "== 5. fetch-suites and fetch-aarch64 (--resolve)"
set +e
out=$(QEMU_52_VERSION=1:5.2+dfsg-11+deb11u99 FETCH_SUITES_ONLY=5.2 "$repo/scripts/fetch-suites" --resolve "$cache" 2>"$scratch/suites.err")
rc=$?
set -e
err=$(cat "$scratch/suites.err")
if [ $rc = 0 ] && grep -q '^fetch-suites: WARNING: substituted qemu-system-x86 1:5.2+dfsg-11+deb11u99 -> qemu-system-x86 1:5.2+' <<<"$err"; then
  ok "fetch-suites: gone 5.2 pin fell back to $(grep -o 'qemu-system-x86 1:5\.2[^,]*' <<<"$out" | head -n1)"
else not_ok "fetch-suites gone 5.2 pin (rc=$rc)"; show; fi
set +e
out=$(ARM_KERNEL_PACKAGE=linux-image-6.1.0-999-cloud-arm64 "$repo/scripts/fetch-aarch64" --resolve "$cache" 2>"$scratch/aarch64.err")
rc=$?
set -e
err=$(cat "$scratch/aarch64.err")
if [ $rc = 0 ] && grep -q '^fetch-aarch64: WARNING: substituted linux-image-6.1.0-999-cloud-arm64:arm64 6.1.176-1 -> linux-image-6\.1\.0-[0-9]*-cloud-arm64:arm64 6\.1\.' <<<"$err"; then
  ok "fetch-aarch64: gone arm64 kernel pin fell back to $(grep '^linux-image' <<<"$out")"
else not_ok "fetch-aarch64 gone kernel pin (rc=$rc)"; show; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
