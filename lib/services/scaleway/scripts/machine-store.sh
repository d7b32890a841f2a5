#!/bin/sh
# Lists the machines of a docker-machine store, one line per machine:
#   machine<TAB>name<TAB>server id<TAB>driver<TAB>zone or region<TAB>config.json mtime (epoch)
# then "end". Only these fields leave the host: each machine's config.json also
# holds the driver's API credentials in clear, so the file is never printed.
# docker-machine writes config.json with json.MarshalIndent: one key per line.
# Usage: machine-store.sh STORE_DIR    (e.g. /root/.docker/machine)
set -eu
store=${1:?usage: machine-store.sh STORE_DIR}

# The first string value of KEY in FILE, or nothing.
value() {
  sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" "$2" | head -n 1
}

if [ -d "$store/machines" ]; then
  for dir in "$store"/machines/*/; do
    cfg="${dir}config.json"
    [ -f "$cfg" ] || continue
    name=$(basename "$dir")
    id=$(value ServerID "$cfg")
    driver=$(value DriverName "$cfg")
    zone=$(value Zone "$cfg")
    [ -n "$zone" ] || zone=$(value Region "$cfg")
    mtime=$(stat -c %Y "$cfg")
    printf 'machine\t%s\t%s\t%s\t%s\t%s\n' "$name" "$id" "$driver" "$zone" "$mtime"
  done
fi
echo end
