# shellcheck shell=bash
# Shared steps of scripts/fetch-qemu, fetch-suites and fetch-aarch64: a private
# apt state (nothing of the system's apt is touched), pinned downloads that
# survive the archive moving on, unpacking, and the manifest. Source it after
# setting fl_name (the script's name, for messages) and fl_debs (where .debs go).
#
# Pin policy (one rule for every component): the exact pinned version is
# taken when the archive (or the local .deb cache) still has it. When the
# archive dropped it, the newest build of the SAME upstream release from the
# component's own suites is taken instead, and a banner line starting with
# "<script>: WARNING: substituted" goes to stderr, every run, until the pin
# is updated. An upstream release the suites do not have is an error.

fl_die() { echo "$fl_name: error: $*" >&2; exit 1; }

# Substitutions made by this run, one line each: "NAME PIN -> NAME VERSION (SUITE)".
fl_substituted=()

# fl_apt_init DIR ARCHS SOURCE_LINE...: a private apt state in DIR for the
# given architectures (first is native, e.g. "amd64 arm64") and sources.list
# lines; sets the array fl_apt of options for apt-get/apt-cache. The config
# is a file, so a look-up by hand is `apt-cache -c DIR/apt.conf madison NAME`.
fl_apt_init() {
  local dir=$1 archs=$2 a
  shift 2
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/etc"
  : > "$dir/status"
  printf '%s\n' "$@" > "$dir/etc/sources.list"
  {
    echo "Dir::State \"$dir\";"
    echo "Dir::State::Lists \"$dir/lists\";"
    echo "Dir::State::status \"$dir/status\";"
    echo "Dir::Cache \"$dir/cache\";"
    echo "Dir::Etc::SourceList \"$dir/etc/sources.list\";"
    echo 'Dir::Etc::SourceParts "/dev/null";'
    echo 'Dir::Etc::Preferences "/dev/null";'
    echo 'Dir::Etc::PreferencesParts "/dev/null";'
    echo "APT::Architecture \"${archs%% *}\";"
    echo '#clear APT::Architectures;'
    echo 'APT::Architectures {'
    for a in $archs; do echo "  \"$a\";"; done
    echo '};'
    echo 'APT::Sandbox::User "root";'
    echo 'Acquire::Retries "3";'
    echo 'Acquire::Languages "none";'
    # Only Packages indices: no AppStream metadata, no appstreamcli refresh hook.
    echo 'Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";'
    echo 'Acquire::IndexTargets::deb::CNF::DefaultEnabled "false";'
    echo '#clear APT::Update::Post-Invoke-Success;'
    echo '#clear APT::Update::Post-Invoke;'
  } > "$dir/apt.conf"
  fl_apt=(-c "$dir/apt.conf")
  fl_apt_dir=$dir
  fl_native=${archs%% *}
}

# fl_apt_update: refresh the private package lists; any failed index is fatal.
fl_apt_update() {
  local log="$fl_apt_dir/update.log"
  echo "$fl_name: updating private package lists in $fl_apt_dir"
  if ! apt-get "${fl_apt[@]}" -q update >"$log" 2>&1 || grep -qE '^(Err|W: Failed|E: )' "$log"; then
    cat "$log" >&2
    fl_die "the Debian package registry did not answer (see above)"
  fi
}

# fl_upstream VERSION: the upstream release in a Debian version string:
# epoch, Debian revision and repack suffixes (+dfsg, +ds, ~...) dropped.
# 1:7.2+dfsg-7+deb12u18+b3 -> 7.2; 1:10.0.2+ds-2+deb13u1~bpo12+1 -> 10.0.2.
fl_upstream() {
  local v=${1#*:}
  v=${v%-*}
  v=${v%%[+~]*}
  echo "$v"
}

# fl_series VERSION: the stable series (major.minor) of a Debian version's
# upstream release: 1:10.0.13+ds-0+deb13u1 -> 10.0.
fl_series() { fl_upstream "$1" | cut -d. -f1-2; }

# fl_same_release UPSTREAM SERIES: true when UPSTREAM is SERIES or a point
# release of it (SERIES 6.1 takes 6.1.192; SERIES 10.0.2 takes only 10.0.2).
fl_same_release() { [ "$1" = "$2" ] || [ "${1#"$2".}" != "$1" ]; }

# fl_madison NAME[:ARCH]: "VERSION SUITE ARCH" for every build the lists know.
fl_madison() {
  apt-cache "${fl_apt[@]}" madison "$1" 2>/dev/null |
    awk -F' [|] ' 'NF >= 3 { split($3, w, " "); split(w[2], s, "/"); print $2, s[1], w[3] }' |
    sed 's/^ *//'
}

# fl_has NAME[:ARCH] VERSION: true when the lists (any suite) or the .deb cache hold it.
fl_has() {
  [ -n "$(fl_find_deb "$1" "$2")" ] && return 0
  fl_madison "$1" | awk -v v="$2" -v a="$(fl_arch "$1")" '$1 == v && $3 == a { f = 1 } END { exit !f }'
}

# fl_arch NAME[:ARCH]: the architecture a name refers to (the native one by default).
fl_arch() {
  case $1 in
    *:*) echo "${1##*:}" ;;
    *) echo "$fl_native" ;;
  esac
}

# fl_newest NAME[:ARCH] SERIES "SUITE...": "VERSION SUITE" of the newest build of
# upstream release SERIES in those suites, or nothing.
fl_newest() {
  local name=$1 series=$2 suites=" $3 " arch best="" best_suite="" v s a
  arch=$(fl_arch "$name")
  while read -r v s a; do
    [ "$a" = "$arch" ] || continue
    case $suites in *" $s "*) ;; *) continue ;; esac
    fl_same_release "$(fl_upstream "$v")" "$series" || continue
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; best_suite=$s; fi
  done < <(fl_madison "$name")
  [ -z "$best" ] || echo "$best $best_suite"
}

fl_banner() { echo "$fl_name: WARNING: substituted $1: the pinned build left the archive; re-pin in scripts/$fl_name" >&2; }

fl_warn_substituted() { # NAME PIN NEWNAME NEWVERSION SUITE
  local line="$1 $2 -> $3 $4 ($5)"
  fl_substituted+=("$line")
  fl_banner "$line"
}

# fl_resolve NAME[:ARCH] PIN SERIES "SUITE..." [PREFERRED]: sets fl_v to the
# version to fetch: PIN when it is still there; else PREFERRED (e.g. the
# version of an already substituted sibling package) when given and there;
# else the newest build of upstream release SERIES in SUITES, with a banner.
# Dies when SERIES is not there. (Not in $(...): it records substitutions.)
fl_resolve() {
  local name=$1 pin=$2 series=$3 suites=$4 preferred=${5:-} found
  if fl_has "$name" "$pin"; then fl_v=$pin; return; fi
  if [ -n "$preferred" ] && fl_has "$name" "$preferred"; then
    found="$preferred $(fl_madison "$name" | awk -v v="$preferred" '$1 == v { print $2; exit }')"
  else
    found=$(fl_newest "$name" "$series" "$suites")
  fi
  if [ -z "$found" ]; then
    echo "$fl_name: builds of $name the archive has:" >&2
    fl_madison "$name" | sed 's/^/  /' >&2
    fl_die "$name=$pin is not in the archive, and upstream release $series has no build in suites: $suites"
  fi
  fl_warn_substituted "$name" "$pin" "$name" "${found% *}" "${found#* }"
  fl_v=${found% *}
}

# fl_resolve_kernel META[:ARCH] PACKAGE VERSION SERIES "SUITE...": sets fl_pkg
# and fl_v to the kernel image package to fetch. Debian renames the image
# package with each ABI bump (linux-image-6.1.0-50-cloud-amd64 -> ...-57-...),
# so the fallback goes through the metapackage META (linux-image-cloud-amd64):
# its newest version of SERIES in SUITES names the exact image it depends on.
fl_resolve_kernel() {
  local meta=$1 pkg=$2 pin=$3 series=$4 suites=$5 arch="" found mv dep
  case $meta in *:*) arch=":${meta##*:}" ;; esac
  if fl_has "$pkg$arch" "$pin"; then fl_pkg=$pkg; fl_v=$pin; return; fi
  found=$(fl_newest "$meta" "$series" "$suites")
  if [ -z "$found" ]; then
    echo "$fl_name: builds of $meta the archive has:" >&2
    fl_madison "$meta" | sed 's/^/  /' >&2
    fl_die "$pkg=$pin is not in the archive, and kernel series $series has no build of $meta in suites: $suites"
  fi
  mv=${found% *}
  dep=$(apt-cache "${fl_apt[@]}" show "$meta=$mv" 2>/dev/null | sed -n 's/^Depends: //p' | head -n1 |
    tr ',' '\n' | sed -n 's/^ *\(linux-image-[^ ]*\) (= \([^)]*\)).*/\1 \2/p' | head -n1)
  [ -n "$dep" ] || fl_die "cannot read the image package $meta=$mv depends on"
  fl_warn_substituted "$pkg$arch" "$pin" "${dep% *}$arch" "${dep#* }" "${found#* }"
  fl_pkg=${dep% *}
  fl_v=${dep#* }
}

# fl_source_version NAME[:ARCH] VERSION: the source package version of that build
# (binNMU suffix +bN dropped), for arch:all siblings such as qemu-system-data.
fl_source_version() {
  local src
  src=$(apt-cache "${fl_apt[@]}" show "$1=$2" 2>/dev/null | sed -n 's/^Source: .*(\(.*\))$/\1/p' | head -n1)
  echo "${src:-$2}"
}

# fl_find_deb NAME[:ARCH] VERSION: the already downloaded .deb of exactly that build, if any.
fl_find_deb() {
  local name=${1%%:*} arch f
  case $1 in *:*) arch=${1##*:} ;; *) arch="" ;; esac
  for f in "$fl_debs/${name}_"*.deb; do
    [ -e "$f" ] || continue
    [ "$(dpkg-deb -f "$f" Package)" = "$name" ] && [ "$(dpkg-deb -f "$f" Version)" = "$2" ] || continue
    if [ -n "$arch" ] && [ "$(dpkg-deb -f "$f" Architecture)" != "$arch" ] && [ "$(dpkg-deb -f "$f" Architecture)" != all ]; then continue; fi
    echo "$f"
    return 0
  done
  return 0
}

# fl_download NAME[:ARCH] VERSION: path of that exact .deb in $fl_debs, downloading it once.
fl_download() {
  local name=$1 version=$2 file
  file=$(fl_find_deb "$name" "$version")
  if [ -n "$file" ]; then echo "$file"; return; fi
  mkdir -p "$fl_debs"
  if ! (cd "$fl_debs" && apt-get "${fl_apt[@]}" -q download "$name=$version" >&2); then
    echo "$fl_name: builds of $name the archive has:" >&2
    fl_madison "$name" | sed 's/^/  /' >&2
    fl_die "cannot download $name=$version"
  fi
  file=$(fl_find_deb "$name" "$version")
  [ -n "$file" ] || fl_die "apt-get download of $name=$version left no .deb"
  echo "$file"
}

# fl_download_all NAME[:ARCH]=VERSION...: sets the array fl_files to those exact
# .debs in $fl_debs, fetching the missing ones with one apt-get call.
fl_download_all() {
  local spec missing=()
  for spec in "$@"; do
    [ -n "$(fl_find_deb "${spec%%=*}" "${spec#*=}")" ] || missing+=("$spec")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    mkdir -p "$fl_debs"
    echo "$fl_name: downloading ${#missing[@]} packages" >&2
    (cd "$fl_debs" && apt-get "${fl_apt[@]}" -q download "${missing[@]}" >&2) || fl_die "apt-get download failed (above)"
  fi
  fl_files=()
  for spec in "$@"; do fl_files+=("$(fl_download "${spec%%=*}" "${spec#*=}")"); done
}

# fl_unpack DEST DEB...: unpack into DEST, replacing it only once all unpacked.
fl_unpack() {
  local dest=$1 d
  shift
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp"
  for d in "$@"; do dpkg-deb -x "$d" "$dest.tmp"; done
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
}

# fl_manifest_lines DEB...: "PACKAGE VERSION ARCH SHA256" of each .deb.
fl_manifest_lines() {
  local d
  for d in "$@"; do
    printf '%s %s %s\n' "$(dpkg-deb -f "$d" Package)" "$(dpkg-deb -f "$d" Version)" "$(sha256sum "$d" | cut -d' ' -f1)"
  done
}

# fl_substitution_lines: the manifest lines recording this run's substitutions.
fl_substitution_lines() {
  local s
  for s in ${fl_substituted[@]+"${fl_substituted[@]}"}; do echo "substituted: $s"; done
}

# fl_replay_warnings MANIFEST: repeat the banner for substitutions a manifest
# recorded (the fast "up to date" path, so a substitution is never silent).
fl_replay_warnings() {
  local s
  while IFS= read -r s; do fl_banner "${s#substituted: }"; done < <(grep '^substituted: ' "$1" || true)
}

# fl_warning_summary: repeat this run's substitution banners at the end of its output.
fl_warning_summary() {
  local s
  for s in ${fl_substituted[@]+"${fl_substituted[@]}"}; do fl_banner "$s"; done
}
