#!/bin/sh
# Installs the hardening drop-in in one round trip: the candidate (stdin) to a
# temp file, `sshd -t` on the FULL configuration with the candidate in place
# of the drop-in, a backup of the old drop-in, then an atomic rename.
#   $1 temp file   $2 drop-in   $3 backup of the previous drop-in
#   $4 drop-in folder (/etc/ssh/sshd_config.d)   $5 main config (/etc/ssh/sshd_config)
set -e
t=$1 dropin=$2 prev=$3 dropin_dir=$4 main_config=$5
# awk: replace every occurrence of a plain string (paths are never read as patterns)
SWAP='function swap(s, a, b,   i, out) {
  out = ""
  while (a != "" && (i = index(s, a)) > 0) { out = out substr(s, 1, i - 1) b; s = substr(s, i + length(a)) }
  return out s
}
'

# Checks a candidate exactly as sshd will read it once installed: a temporary
# copy of sshd_config whose Include of the drop-in folder points at a
# temporary copy of that folder, where the candidate takes the place of our
# drop-in. A drop-in alone is not a valid config, and checking the real
# sshd_config would read the old drop-in, not the new one.
# (Called in a condition, where set -e does not apply: every step says || exit.)
check_candidate() (
  cand=$1
  d=$(mktemp -d "${TMPDIR:-/tmp}/rigger-sshd-check.XXXXXX") || exit 1
  trap 'rm -rf "$d"' EXIT
  mkdir "$d/conf.d" || exit 1
  for f in "$dropin_dir"/*.conf; do
    [ -f "$f" ] || continue
    [ "$f" = "$dropin" ] && continue
    cp -- "$f" "$d/conf.d/" || exit 1
  done
  cp -- "$cand" "$d/conf.d/${dropin##*/}" || exit 1
  # Include lines only: "<dir>/" and a relative "sshd_config.d/" become the copy
  # (awk with plain strings: no path is read as a pattern)
  from="$dropin_dir/" to="$d/conf.d/" awk "$SWAP"'
    tolower($1) == "include" {
      $0 = swap($0, ENVIRON["from"], ENVIRON["to"])
      $0 = swap($0, " sshd_config.d/", " " ENVIRON["to"])
      $0 = swap($0, "\tsshd_config.d/", "\t" ENVIRON["to"])
    }
    { print }' "$main_config" > "$d/sshd_config" || exit 1
  if ! grep -qF -- "$d/conf.d/" "$d/sshd_config"; then
    printf "%s has no 'Include %s/*.conf' line: sshd would ignore %s\n" "$main_config" "$dropin_dir" "$dropin" >&2
    exit 1
  fi
  [ -d /run/sshd ] || mkdir -m 0755 /run/sshd || exit 1
  if ! out=$(sshd -t -f "$d/sshd_config" 2>&1); then
    # sshd's messages name the temporary copies: name the real files instead
    printf '%s\n' "$out" |
      tmpd="$d/conf.d/" newd="(new) $dropin_dir/" tmpc="$d/sshd_config" mainc="$main_config" \
        awk "$SWAP"'{ print swap(swap($0, ENVIRON["tmpd"], ENVIRON["newd"]), ENVIRON["tmpc"], ENVIRON["mainc"]) }' >&2
    exit 1
  fi
  [ -z "$out" ] || printf '%s\n' "$out" >&2
)

trap 'rm -f -- "$t"' EXIT
umask 077
cat > "$t"
chown root:root "$t"
chmod 644 "$t"
if ! out=$(check_candidate "$t" 2>&1); then
  printf 'sshd -t rejects the new %s, so it was not installed (the current configuration stays in force):\n%s\n' "$dropin" "$out" >&2
  exit 3
fi
if [ -f "$dropin" ]; then cp -p -- "$dropin" "$prev"; else rm -f -- "$prev"; fi
sync -- "$t" 2>/dev/null || sync
mv -f -- "$t" "$dropin"
trap - EXIT
