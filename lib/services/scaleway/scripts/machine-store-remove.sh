#!/bin/sh
# Removes one machine from a docker-machine store, after its Scaleway server
# was deleted: gitlab-runner counts store entries toward its `limit`, and
# forgets a machine whose config.json is gone.
# Usage: machine-store-remove.sh STORE_DIR NAME
set -eu
store=${1:?usage: machine-store-remove.sh STORE_DIR NAME}
name=${2:?usage: machine-store-remove.sh STORE_DIR NAME}
case $name in
  '' | . | .. | */* | -*) echo "refusing machine name '$name'" >&2; exit 2 ;;
esac
dir="$store/machines/$name"
if [ -e "$dir" ]; then
  rm -rf -- "$dir"
  echo removed
else
  echo absent
fi
