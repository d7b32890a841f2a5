#!/bin/sh
# Read-only probe of what the ssh lockout rules need (settings.ts parses it).
#   $1 login user
#   $2 main sshd config (/etc/ssh/sshd_config)
#   $3 "set" when the new settings give AuthorizedKeysFile, else "unset"
#   $4 that AuthorizedKeysFile value
# `-C` connection spec for sshd -T: the login user, and the client address of
# our own connection when the shell still has it (sudo resets SSH_CONNECTION),
# so Match User / Match Address blocks are evaluated as for rigger.
set -f
u=$1 main_config=$2 akf_given=$3 akf_value=$4
echo "user=$u"
pw=$(getent passwd -- "$u") || { echo nouser; exit 0; }
# name:password:uid:gid:gecos:home:shell, split by the shell itself (every
# process here runs on each run of every host)
IFS=: read -r _ _ uid _ _ home _ <<EOF
$pw
EOF
echo "home=$home"
echo "uid=$uid"
echo "groups=$(id -Gn -- "$u" 2>/dev/null)"
if grep -qiE '^[[:space:]]*include[[:space:]].*sshd_config\.d/\*\.conf' "$main_config"; then echo include=yes; else echo include=no; fi
# shellcheck disable=SC2086 # split SSH_CONNECTION into its four fields
set -- ${SSH_CONNECTION:-127.0.0.1 0 127.0.0.1 22}
spec="user=$u,host=$1,addr=$1,laddr=$3,lport=$4"
cfg=$(sshd -T -C "$spec" 2>&1) || { printf '%s\n' "$cfg" | sed 's/^/sshderr=/'; exit 0; }
# the first authorizedkeyscommand and authorizedkeysfile lines, one per line, in one awk
{ read -r akc; read -r akf_shown; } <<EOF
$(printf '%s\n' "$cfg" | awk '
  $1 == "authorizedkeyscommand" && !c { c = 1; $1 = ""; sub(/^ +/, ""); akc = $0 }
  $1 == "authorizedkeysfile" && !f { f = 1; $1 = ""; sub(/^ +/, ""); akf = $0 }
  END { print akc; print akf }')
EOF
if [ "$akf_given" = set ]; then akf=$akf_value; else akf=$akf_shown; fi
echo "akf=$akf"
echo "akc=${akc:-none}"
# AuthorizedKeysFile is a list of patterns: split on blanks (set -f: no globbing)
for f in $akf; do
  [ "$f" = none ] && continue
  # %h %u %U %% expanded as sshd does; awk, so no value is read as a sed expression
  case $f in
  *%*) p=$(printf '%s' "$f" | h=$home u=$u U=$uid awk '{
    h = ENVIRON["h"]; u = ENVIRON["u"]; U = ENVIRON["U"]
    out = ""; s = $0
    while ((i = index(s, "%")) > 0) {
      c = substr(s, i + 1, 1); out = out substr(s, 1, i - 1)
      if (c == "h") out = out h; else if (c == "u") out = out u; else if (c == "U") out = out U; else if (c == "%") out = out "%"; else out = out "%" c
      s = substr(s, i + 2)
    }
    print out s }') ;;
  *) p=$f ;;
  esac
  case "$p" in /*) ;; *) p="$home/$p";; esac
  if [ -f "$p" ]; then
    echo "file=$p"
    # awk ends every line, a last line without a newline too
    awk '!/^[[:space:]]*#/ && !/^[[:space:]]*$/ { print "key=" $0 }' "$p"
  else
    echo "missing=$p"
  fi
done
# runuser needs no login shell and no password: it tells whether the user itself can sudo -n.
if [ "$u" != root ]; then
  if runuser -u "$u" -- sudo -n true >/dev/null 2>&1; then echo sudo=ok; else echo sudo=fail; fi
fi
true
