#!/usr/bin/env bash
# docker-cleanup: free disk space on a host running Docker CI jobs
# (gitlab-runner docker executor), only when free space is low.
#
# Run from /etc/cron.d. Configuration, highest precedence first:
#   1. environment variables given to the script,
#   2. the config file (default /etc/default/docker-cleanup, override with
#      DOCKER_CLEANUP_CONFIG=FILE or --config FILE), sourced if present,
#   3. the defaults below.
#
#   THRESHOLD    clean only when free space on the filesystem holding the
#                Docker data root is at or below this: a percentage of the
#                filesystem size ("15%") or a size in bytes with an optional
#                binary suffix K, M, G, T, P ("20G", "500M", "1073741824").
#                Default 15%.
#   GRACE        only remove stopped containers, unused images and build
#                cache older than this Go duration ("72h", "90m", "0s").
#                Default 72h.
#   DOCKER_ROOT  directory whose filesystem is measured. Default: the
#                daemon's DockerRootDir (docker info).
#   DRY_RUN=1    report what would be removed, remove nothing.
#   LOG_TAG      syslog tag for logger(1). Default docker-cleanup; set it to
#                an empty string to log to stdout only.
#   LOCK_FILE    flock(1) lock file. Default /run/lock/docker-cleanup.lock.
#   DOCKER       docker CLI to call. Default docker. DOCKER_HOST and the other
#                docker CLI variables are honoured as usual.
#
# Flags: --dry-run, --force (clean whatever the free space), --config FILE,
#        --help.
#
# Exit codes: 0 done or nothing to do (also when another run holds the lock),
#             1 a docker command failed, 2 usage or configuration error.

set -u -o pipefail

readonly RUNNER_LABEL='com.gitlab.gitlab-runner.managed=true'
readonly CONFIG_VARS='THRESHOLD GRACE DOCKER_ROOT DRY_RUN LOG_TAG LOCK_FILE DOCKER'

usage() {
    cat <<'EOF'
Usage: docker-cleanup [--dry-run] [--force] [--config FILE]

Frees disk space used by Docker CI jobs when free space on the filesystem
holding the Docker data root is at or below THRESHOLD: prunes stopped
containers, unused images and build cache older than GRACE, and removes unused
volumes labelled com.gitlab.gitlab-runner.managed=true.

Environment / config file (/etc/default/docker-cleanup): THRESHOLD (15%,
20G, 500M), GRACE (Go duration, 72h), DOCKER_ROOT, DRY_RUN=1, LOG_TAG,
LOCK_FILE, DOCKER.
EOF
}

# ---------------------------------------------------------------- arguments

FORCE=0
OPT_DRY_RUN=0
CONFIG_FILE=${DOCKER_CLEANUP_CONFIG:-/etc/default/docker-cleanup}

while [ $# -gt 0 ]; do
    case $1 in
        --dry-run|-n) OPT_DRY_RUN=1 ;;
        --force|-f) FORCE=1 ;;
        --config)
            if [ $# -lt 2 ]; then
                echo "docker-cleanup: --config needs a file" >&2
                exit 2
            fi
            CONFIG_FILE=$2
            shift
            ;;
        --config=*) CONFIG_FILE=${1#--config=} ;;
        -h|--help) usage; exit 0 ;;
        *)
            echo "docker-cleanup: unknown argument: $1" >&2
            usage >&2
            exit 2
            ;;
    esac
    shift
done

# ------------------------------------------------------------ configuration

# The config file must not override what the caller put in the environment:
# remember the variables that are set, source the file, then restore them.
declare -A from_env=()
for var in $CONFIG_VARS; do
    if [ -n "${!var+x}" ]; then
        from_env[$var]=${!var}
    fi
done

if [ -f "$CONFIG_FILE" ]; then
    if [ ! -r "$CONFIG_FILE" ]; then
        echo "docker-cleanup: cannot read config file $CONFIG_FILE" >&2
        exit 2
    fi
    # shellcheck source=/dev/null
    . "$CONFIG_FILE"
fi

for var in "${!from_env[@]}"; do
    printf -v "$var" '%s' "${from_env[$var]}"
done
unset from_env var

THRESHOLD=${THRESHOLD:-15%}
GRACE=${GRACE:-72h}
DOCKER_ROOT=${DOCKER_ROOT:-}
DRY_RUN=${DRY_RUN:-0}
LOG_TAG=${LOG_TAG-docker-cleanup}
DOCKER=${DOCKER:-docker}
if [ -z "${LOCK_FILE:-}" ]; then
    if [ -d /run/lock ]; then
        LOCK_FILE=/run/lock/docker-cleanup.lock
    else
        LOCK_FILE=/tmp/docker-cleanup.lock
    fi
fi
if [ "$OPT_DRY_RUN" = 1 ]; then
    DRY_RUN=1
fi
case $DRY_RUN in
    1|yes|true) DRY_RUN=1 ;;
    ''|0|no|false) DRY_RUN=0 ;;
    *) echo "docker-cleanup: DRY_RUN must be 0 or 1, got '$DRY_RUN'" >&2; exit 2 ;;
esac

# ------------------------------------------------------------------ helpers

log() {
    printf 'docker-cleanup: %s\n' "$*"
    if [ -n "$LOG_TAG" ] && command -v logger >/dev/null 2>&1; then
        logger -t "$LOG_TAG" -- "$*" 2>/dev/null || true
    fi
}

warn() {
    printf 'docker-cleanup: %s\n' "$*" >&2
    if [ -n "$LOG_TAG" ] && command -v logger >/dev/null 2>&1; then
        logger -t "$LOG_TAG" -p user.warning -- "$*" 2>/dev/null || true
    fi
}

die() {
    warn "$2"
    exit "$1"
}

# human BYTES: "12.3GiB (13207024435 bytes)"; a negative input keeps its sign.
human() {
    local n=$1 sign='' h
    if [ "$n" -lt 0 ]; then
        sign=-
        n=$((-n))
    fi
    if command -v numfmt >/dev/null 2>&1; then
        h=$(numfmt --to=iec-i --suffix=B --format='%.1f' "$n" 2>/dev/null) || h="${n}B"
    else
        h="${n}B"
    fi
    printf '%s%s (%s%s bytes)' "$sign" "$h" "$sign" "$n"
}

# parse_size "20G" -> bytes on stdout; binary multiples (G = 1024^3).
parse_size() {
    local s=$1 num unit mult
    if [[ ! $s =~ ^([0-9]+)[[:space:]]*([KkMmGgTtPp]?)([Ii]?[Bb])?$ ]]; then
        return 1
    fi
    num=$((10#${BASH_REMATCH[1]}))
    unit=${BASH_REMATCH[2]}
    case $unit in
        '') mult=1 ;;
        [Kk]) mult=1024 ;;
        [Mm]) mult=$((1024 ** 2)) ;;
        [Gg]) mult=$((1024 ** 3)) ;;
        [Tt]) mult=$((1024 ** 4)) ;;
        [Pp]) mult=$((1024 ** 5)) ;;
    esac
    printf '%s\n' $((num * mult))
}

# Go duration as accepted by docker's "until" filter: "72h", "1h30m", "0s",
# "0", "1.5h".
valid_duration() {
    [[ $1 == 0 || $1 =~ ^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$ ]]
}

# duration_seconds "1h30m" -> 5400 (fractions truncated); used by --dry-run.
duration_seconds() {
    local rest=$1 total=0 num unit int frac
    [ "$rest" = 0 ] && { echo 0; return; }
    while [[ $rest =~ ^([0-9]+(\.[0-9]+)?)(ns|us|µs|ms|s|m|h)(.*)$ ]]; do
        num=${BASH_REMATCH[1]}
        unit=${BASH_REMATCH[3]}
        rest=${BASH_REMATCH[4]}
        int=${num%%.*}
        frac=0
        if [[ $num == *.* ]]; then
            frac=${num#*.}
            frac=${frac:0:6}
            while [ ${#frac} -lt 6 ]; do frac=${frac}0; done
        fi
        # microseconds of this term, then down to seconds at the end
        local us=$((10#$int * 1000000 + 10#$frac))
        case $unit in
            h) total=$((total + us * 3600)) ;;
            m) total=$((total + us * 60)) ;;
            s) total=$((total + us)) ;;
            ms) total=$((total + us / 1000)) ;;
            *) total=$((total + us / 1000000)) ;;
        esac
    done
    echo $((total / 1000000))
}

# fs_space DIR -> "AVAILABLE SIZE" in bytes for the filesystem holding DIR.
# df -P prints one line per filesystem (no wrapping) in 1024-byte blocks;
# the arithmetic is done by bash (64-bit integers), awk would print floats.
fs_space() {
    local out avail size
    out=$(df -Pk -- "$1" 2>/dev/null | awk 'NR == 2 { print $4, $2 }') || return 1
    read -r avail size <<<"$out"
    [[ $avail =~ ^[0-9]+$ && $size =~ ^[0-9]+$ ]] || return 1
    printf '%s %s\n' $((avail * 1024)) $((size * 1024))
}

errors=0

# run_docker DESCRIPTION ARGS...: run a docker command, log its output,
# count a failure.
run_docker() {
    local what=$1 out rc line
    shift
    out=$("$DOCKER" "$@" 2>&1)
    rc=$?
    while IFS= read -r line; do
        [ -n "$line" ] && log "$what: $line"
    done <<<"$out"
    if [ "$rc" -ne 0 ]; then
        warn "$what failed (exit $rc): $DOCKER $*"
        errors=$((errors + 1))
    fi
    return "$rc"
}

# ----------------------------------------------------------- validate config

if [[ $THRESHOLD =~ ^([0-9]+)[[:space:]]*%$ ]]; then
    threshold_pct=$((10#${BASH_REMATCH[1]}))
    [ "$threshold_pct" -le 100 ] || die 2 "THRESHOLD percentage must be 0-100%, got '$THRESHOLD'"
    threshold_bytes=
elif threshold_bytes=$(parse_size "$THRESHOLD"); then
    threshold_pct=
else
    die 2 "THRESHOLD must be a percentage (15%) or a size (20G, 500M), got '$THRESHOLD'"
fi

valid_duration "$GRACE" || die 2 "GRACE must be a Go duration (72h, 90m, 0s), got '$GRACE'"

command -v "$DOCKER" >/dev/null 2>&1 || die 2 "docker CLI '$DOCKER' not found"
command -v flock >/dev/null 2>&1 || die 2 "flock(1) not found (util-linux)"

# --------------------------------------------------------------------- lock

# Two runs never overlap: a later cron run while a cleanup is still going
# has nothing useful to do, so it logs and exits 0.
if ! exec 9>>"$LOCK_FILE"; then
    die 2 "cannot open lock file $LOCK_FILE"
fi
if ! flock -n 9; then
    log "another docker-cleanup run holds $LOCK_FILE, skipping"
    exit 0
fi

# ------------------------------------------------------------ measure space

if [ -z "$DOCKER_ROOT" ]; then
    if ! DOCKER_ROOT=$("$DOCKER" info --format '{{.DockerRootDir}}' 2>&1); then
        die 1 "docker info failed: $DOCKER_ROOT"
    fi
fi
[ -d "$DOCKER_ROOT" ] || die 2 "Docker data root '$DOCKER_ROOT' is not a directory on this host (set DOCKER_ROOT)"

space=$(fs_space "$DOCKER_ROOT") || die 1 "df failed on $DOCKER_ROOT"
read -r free_before fs_size <<<"$space"

if [ -n "$threshold_pct" ]; then
    threshold_bytes=$((fs_size * threshold_pct / 100))
    threshold_desc="$THRESHOLD of $(human "$fs_size") = $(human "$threshold_bytes")"
else
    threshold_desc="$(human "$threshold_bytes")"
fi

log "free space on $DOCKER_ROOT: $(human "$free_before"); threshold $threshold_desc"

if [ "$free_before" -gt "$threshold_bytes" ]; then
    if [ "$FORCE" = 1 ]; then
        log "free space above threshold, cleaning anyway (--force)"
    else
        log "free space above threshold, nothing to do"
        exit 0
    fi
else
    log "free space at or below threshold, cleaning (grace $GRACE)"
fi

# ------------------------------------------------------------------ volumes
#
# Runner volumes (cache and build volumes) carry the runner's label. Only
# those are removed, never unlabelled volumes, and never one in use.
#
# Why list + rm instead of `docker volume prune --filter label=...`:
#  - Docker <= 22 (API <= 1.41, Debian 12's 20.10) has no `volume prune
#    --all`; its prune removes every unused volume, named or anonymous, that
#    matches the filter.
#  - Docker >= 23 (API >= 1.42) prunes only anonymous volumes unless
#    `--all` is given, so runner cache volumes (named) would survive.
#  Choosing flags by API version would work too, but needs one code path per
#  version, and only one of them can be tested on any given host.
#  `docker volume ls --filter label=... --filter dangling=true` selects the
#  same set (labelled, referenced by no container) on every API version, and
#  `docker volume rm` removes named and anonymous volumes alike on every
#  version. The daemon refuses to remove a volume in use, so a container that
#  starts using a volume between the ls and the rm keeps it: "in use" and
#  "no such volume" (removed meanwhile) are expected and not errors.
#  (Volume prune has no `until` filter, and `system prune --volumes` rejects
#  `until`: volumes are therefore not age-filtered; the container prune below
#  runs first and only frees volumes of containers older than GRACE.)

remove_runner_volumes() {
    local out rc vols=() batch line removed=0
    if ! out=$("$DOCKER" volume ls -q --filter "label=$RUNNER_LABEL" --filter dangling=true 2>&1); then
        warn "listing runner volumes failed: $out"
        errors=$((errors + 1))
        return
    fi
    while IFS= read -r line; do
        [ -n "$line" ] && vols+=("$line")
    done <<<"$out"
    if [ "${#vols[@]}" -eq 0 ]; then
        log "volumes: no unused runner volumes"
        return
    fi
    if [ "$DRY_RUN" = 1 ]; then
        for line in "${vols[@]}"; do
            log "volumes: would remove $line"
        done
        return
    fi
    # Batches keep the command line short and the number of calls small.
    local i=0 n=${#vols[@]} errfile
    errfile=$(mktemp "${TMPDIR:-/tmp}/docker-cleanup.XXXXXX") || {
        warn "mktemp failed"
        errors=$((errors + 1))
        return
    }
    while [ "$i" -lt "$n" ]; do
        batch=("${vols[@]:i:100}")
        i=$((i + 100))
        out=$("$DOCKER" volume rm -- "${batch[@]}" 2>"$errfile")
        rc=$?
        while IFS= read -r line; do
            [ -n "$line" ] || continue
            log "volumes: removed $line"
            removed=$((removed + 1))
        done <<<"$out"
        while IFS= read -r line; do
            [ -n "$line" ] || continue
            case $line in
                *"in use"*|*"no such volume"*|*"No such volume"*)
                    log "volumes: skipped: $line" ;;
                *)
                    warn "volumes: $line"
                    errors=$((errors + 1)) ;;
            esac
        done <"$errfile"
        # A failure that printed nothing is an error too.
        if [ "$rc" -ne 0 ] && [ ! -s "$errfile" ]; then
            warn "volumes: docker volume rm failed (exit $rc)"
            errors=$((errors + 1))
        fi
    done
    rm -f -- "$errfile"
    log "volumes: removed $removed runner volume(s)"
}

# ---------------------------------------------------------------- dry run

# created_before_cutoff TIMESTAMP: true when the RFC 3339 TIMESTAMP is older
# than GRACE. Needs GNU date; without it everything is reported.
created_before_cutoff() {
    local t
    t=$(date -d "$1" +%s 2>/dev/null) || return 0
    [ "$t" -lt "$cutoff" ]
}

dry_run_report() {
    local id image status created mounts used_images='' used_volumes='' v out
    cutoff=$(( $(date +%s) - $(duration_seconds "$GRACE") ))

    # Containers: `container prune --filter until=GRACE` removes those not
    # running (created, exited, dead) created before the cutoff. The others
    # keep their images and volumes in use.
    out=$("$DOCKER" container ls -a -q --no-trunc 2>&1) || {
        warn "listing containers failed: $out"
        errors=$((errors + 1))
        return
    }
    if [ -n "$out" ]; then
        out=$(xargs "$DOCKER" container inspect --format \
            '{{.ID}} {{.Image}} {{.State.Status}} {{.Created}} {{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}' \
            <<<"$out" 2>&1) || {
            warn "inspecting containers failed: $out"
            errors=$((errors + 1))
            return
        }
    fi
    while read -r id image status created mounts; do
        [ -n "$id" ] || continue
        case $status in
            created|exited|dead)
                if created_before_cutoff "$created"; then
                    log "containers: would remove $id (created $created)"
                    continue
                fi ;;
            *) ;;
        esac
        used_images+="$image"$'\n'
        for v in $mounts; do
            used_volumes+="$v"$'\n'
        done
    done <<<"$out"

    # Volumes: labelled ones no remaining container uses.
    out=$("$DOCKER" volume ls -q --filter "label=$RUNNER_LABEL" 2>&1) || {
        warn "listing runner volumes failed: $out"
        errors=$((errors + 1))
        return
    }
    while IFS= read -r v; do
        [ -n "$v" ] || continue
        grep -qxF -- "$v" <<<"$used_volumes" || log "volumes: would remove $v"
    done <<<"$out"

    # Images: `image prune -a --filter until=GRACE` removes images no
    # remaining container uses, created before the cutoff.
    out=$("$DOCKER" image ls -a -q --no-trunc 2>&1) || {
        warn "listing images failed: $out"
        errors=$((errors + 1))
        return
    }
    if [ -n "$out" ]; then
        out=$(sort -u <<<"$out" | xargs "$DOCKER" image inspect --format '{{.ID}} {{.Created}} {{join .RepoTags ","}}' 2>&1) || {
            warn "inspecting images failed: $out"
            errors=$((errors + 1))
            return
        }
    fi
    while read -r id created image; do
        [ -n "$id" ] || continue
        if ! grep -qxF -- "$id" <<<"$used_images" && created_before_cutoff "$created"; then
            log "images: would remove $id ${image:+($image) }(created $created)"
        fi
    done <<<"$out"

    log "build cache: would prune entries older than $GRACE"
    log "dry run: nothing removed"
}

# ------------------------------------------------------------------ cleanup

if [ "$DRY_RUN" = 1 ]; then
    dry_run_report
    exit "$((errors > 0 ? 1 : 0))"
fi

# Order matters: stopped containers first, so that their images and volumes
# become unused and can go in the same run.
run_docker containers container prune -f --filter "until=$GRACE"
remove_runner_volumes
run_docker images image prune -a -f --filter "until=$GRACE"
# Build cache: the endpoint may be missing (very old daemons, BuildKit-only
# setups without buildx); a failure here is logged but never fatal.
if ! out=$("$DOCKER" builder prune -f --filter "until=$GRACE" 2>&1); then
    log "build cache: prune not available or failed, ignored: ${out//$'\n'/ }"
else
    while IFS= read -r line; do
        case $line in
            ''|DEPRECATED*|*"Install the buildx"*|*docs.docker.com*|*"legacy builder"*) ;;
            *) log "build cache: $line" ;;
        esac
    done <<<"$out"
fi

space=$(fs_space "$DOCKER_ROOT") || die 1 "df failed on $DOCKER_ROOT"
read -r free_after _ <<<"$space"
log "free space before $(human "$free_before"), after $(human "$free_after"), reclaimed $(human $((free_after - free_before)))"

if [ "$errors" -gt 0 ]; then
    warn "finished with $errors docker error(s)"
    exit 1
fi
exit 0
