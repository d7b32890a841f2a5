#!/bin/sh
# Installs a verified download (lib/resources/download.ts). Fetches URL to a
# temp file beside DEST and checks its sha256 BEFORE anything else reads it;
# for an archive, extracts MEMBER; sets owner and mode, then renames into place
# (a failure at any step leaves DEST as it was). For an archive it then records
# "ARCHIVE_SHA256 MEMBER_SHA256 MEMBER" in STAMP, which is how a later probe
# knows that DEST is that member of that archive.
#
# Usage: download.sh URL SHA256 DEST MODE OWNER:GROUP FORMAT [MEMBER STAMP]
#   FORMAT: file | tar.gz | zip
set -eu
url=$1 sha=$2 dest=$3 mode=$4 owner=$5 format=$6 member=${7:-} stamp=${8:-}

dir=$(dirname -- "$dest")
mkdir -p -- "$dir"
fetched=$(mktemp "$dir/.rigger-download.XXXXXX")
out=$(mktemp "$dir/.rigger-member.XXXXXX")
trap 'rm -f -- "$fetched" "$out" "${stamp:+$stamp.tmp}"' EXIT

curl -fsSL --retry 2 -o "$fetched" --url "$url"
got=$(sha256sum < "$fetched" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  printf 'checksum mismatch for %s: expected %s, got %s; not installed\n' "$url" "$sha" "$got" >&2
  exit 1
fi

case $format in
  file)
    mv -f -- "$fetched" "$out"
    ;;
  tar.gz)
    # Exactly one regular file by that name: a directory would unpack every file under it.
    listing=$(tar -tzvf "$fetched" "$member" 2> /dev/null) || listing=
    case $listing in
      -*) [ "$(printf '%s\n' "$listing" | wc -l)" -eq 1 ] || listing= ;;
      ?*)
        printf '%s: %s is empty or not a regular file in the archive; not installed\n' "$url" "$member" >&2
        exit 1
        ;;
    esac
    if [ -z "$listing" ] || ! tar -xzOf "$fetched" "$member" > "$out"; then
      printf '%s: cannot extract %s from the archive (not a .tar.gz, or no such member); not installed\n' "$url" "$member" >&2
      exit 1
    fi
    ;;
  zip)
    if ! command -v unzip > /dev/null 2>&1; then
      printf 'unzip is not installed on this host; %s cannot be unpacked\n' "$url" >&2
      exit 1
    fi
    if ! unzip -p "$fetched" "$member" > "$out"; then
      printf '%s: cannot extract %s from the archive (not a .zip, or no such member); not installed\n' "$url" "$member" >&2
      exit 1
    fi
    ;;
  *)
    printf 'unknown format %s\n' "$format" >&2
    exit 2
    ;;
esac
if [ ! -s "$out" ]; then
  printf '%s: %s is empty or not a regular file in the archive; not installed\n' "$url" "$member" >&2
  exit 1
fi

chown -- "$owner" "$out"
chmod -- "$mode" "$out"
if [ -n "$stamp" ]; then
  printf '%s %s %s\n' "$sha" "$(sha256sum < "$out" | cut -d' ' -f1)" "$member" > "$stamp.tmp"
fi
sync "$out" 2> /dev/null || sync
mv -f -- "$out" "$dest"
if [ -n "$stamp" ]; then
  mv -f -- "$stamp.tmp" "$stamp"
fi
trap - EXIT
rm -f -- "$fetched"
