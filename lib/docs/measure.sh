#!/bin/sh
# Measures a server for the docs page in one go: CPUs, memory, the
# filesystems of / and of the paths given, running services, listening
# sockets, and the disk usage of each path given.
#
# usage: measure.sh DU_TIMEOUT [PATH...]
# Output: one tab-separated record a line (cpus, mem_kb, fs, unit, listen, path).
# Read-only: it runs as the docs playbook's probe, in check mode too.
du_timeout=$1
shift

printf 'cpus\t%s\n' "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
awk '/^MemTotal:/ { printf "mem_kb\t%s\n", $2 }' /proc/meminfo

# df names each filesystem once per path on it: the reader keeps one of each.
for p in / "$@"; do
  if [ -e "$p" ]; then
    df -P -B1 "$p" 2>/dev/null | awk 'NR == 2 { printf "fs\t%s\t%s\t%s\n", $6, $2, $3 }'
  fi
done

systemctl list-units --type=service --state=running --no-legend --plain --no-pager 2>/dev/null |
  awk '{ printf "unit\t%s\n", $1 }'

# netid, local address:port, process (the process column needs root)
if command -v ss >/dev/null 2>&1; then
  ss -H -l -n -t -u -p 2>/dev/null | awk '{ printf "listen\t%s\t%s\t%s\n", $1, $5, $7 }'
fi

# du exits 1 when a subdirectory is unreadable but still prints the total;
# no total at all means it was stopped by the timeout.
i=0
for p in "$@"; do
  if [ ! -e "$p" ]; then
    printf 'path\t%s\tmissing\n' "$i"
  else
    size=$(timeout "$du_timeout" du -sxB1 "$p" 2>/dev/null | cut -f1)
    if [ -n "$size" ]; then
      printf 'path\t%s\t%s\n' "$i" "$size"
    else
      printf 'path\t%s\ttimeout\n' "$i"
    fi
  fi
  i=$((i + 1))
done
