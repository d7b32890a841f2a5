#!/bin/sh
# Puts a new file in place atomically: temp file in the same directory, owner
# and mode set on it, optional validation, fsync, then one rename.
#   $1 path          the file to replace
#   $2 tmp           temp file beside it (already uploaded unless $6 is 1)
#   $3 owner:group
#   $4 mode          octal
#   $5 make_dirs     1: create the parent directory first
#   $6 inline        1: the content comes on stdin
#   $7 validate      command checking the temp file, which it gets as "$1" ('' for none)
#   $8 shown         that command as written in the role, for the error message
set -e
path=$1 tmp=$2 owner=$3 mode=$4 make_dirs=$5 inline=$6 validate=$7 shown=$8
if [ "$make_dirs" = 1 ]; then mkdir -p -- "$(dirname -- "$path")"; fi
trap 'rm -f -- "$tmp"' EXIT
if [ "$inline" = 1 ]; then
  umask 077
  cat > "$tmp"
fi
chown -- "$owner" "$tmp"
chmod -- "$mode" "$tmp"
if [ -n "$validate" ] && ! sh -c "$validate" rigger-validate "$tmp" >&2; then
  printf 'validation failed: %s\n' "$shown" >&2
  exit 3
fi
sync -- "$tmp" 2>/dev/null || sync
mv -f -- "$tmp" "$path"
trap - EXIT
