#!/bin/sh
# The signing keyring of an apt repository.
#   $1 probe|fetch
#   $2 keyring path (/etc/apt/keyrings/NAME.gpg)
#   $3 key URL (fetch)
#   $4 wanted fingerprint, upper case, '' for none (fetch)
# probe prints "absent", or "present", then "gpg=no" when gpg is missing, or
# one line per primary key: "ok|expired <expiry, 0 for none> <fpr>,<subkey fpr>...".
# A key is expired when its primary key is, or when no signing (sub)key is left.
# fetch downloads the key, stores it dearmored, and refuses a key without the
# wanted fingerprint or one that is already expired.

keys_of() {
  # A throwaway GNUPGHOME: gpg would otherwise create and update root's
  # ~/.gnupg, so even a check-mode probe would change the host.
  g=$(mktemp -d)
  GNUPGHOME="$g" gpg --no-default-keyring --show-keys --with-colons -- "$1" 2>/dev/null |
    awk -F: -v now="$(date +%s)" '
      function flush() {
        if (fprs != "") print (((pexp != 0 && pexp <= now) || !sign) ? "expired" : "ok"), pexp, fprs
        fprs = ""
      }
      $1 == "pub" { flush(); pexp = ($7 == "") ? 0 : $7; sign = index($12, "s") > 0; fpr_next = 1; next }
      $1 == "sub" { sexp = ($7 == "") ? 0 : $7; if (index($12, "s") > 0 && (sexp == 0 || sexp > now)) sign = 1; fpr_next = 1; next }
      $1 == "fpr" && fpr_next { fprs = fprs (fprs == "" ? "" : ",") $10; fpr_next = 0 }
      END { flush() }'
  rm -rf "$g"
}

mode=$1 path=$2
if [ "$mode" = probe ]; then
  if [ ! -s "$path" ]; then echo absent; exit 0; fi
  echo present
  if command -v gpg >/dev/null 2>&1; then keys_of "$path"; else echo gpg=no; fi
  exit 0
fi

set -e
url=$3 want=$4 tmp=$path.rigger-tmp
mkdir -p -- "$(dirname -- "$path")"
trap 'rm -f -- "$tmp" "$tmp.in"' EXIT
curl -fsSL --retry 2 -o "$tmp.in" --url "$url"
if grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$tmp.in"; then gpg --batch --yes --dearmor -o "$tmp" -- "$tmp.in"; else cp -- "$tmp.in" "$tmp"; fi
if command -v gpg >/dev/null 2>&1; then
  keys=$(keys_of "$tmp")
  if [ -n "$want" ]; then
    key=$(printf '%s\n' "$keys" | grep -E -- "[ ,]$want(,|\$)" || true)
    if [ -z "$key" ]; then
      printf 'signing key from %s does not have fingerprint %s; refusing it\n' "$url" "$want" >&2
      exit 1
    fi
  else
    key=$keys
  fi
  if ! printf '%s\n' "$key" | grep -q '^ok '; then
    printf 'signing key from %s has expired (apt would refuse what it signs); refusing it\n' "$url" >&2
    exit 1
  fi
elif [ -n "$want" ]; then
  printf 'gpg is missing: cannot check the fingerprint of the signing key from %s\n' "$url" >&2
  exit 1
fi
chmod 0644 "$tmp"
mv -f -- "$tmp" "$path"
rm -f -- "$tmp.in"
trap - EXIT
