#!/bin/sh
# Read-only: the configuration sshd would apply to a connection of the login
# user (sshd -T), with the client address of our own connection when the
# shell still has it (as in guard-probe.sh), so Match blocks are evaluated as for rigger.
#   $1 login user
u=$1
# shellcheck disable=SC2086 # split SSH_CONNECTION into its four fields
set -- ${SSH_CONNECTION:-127.0.0.1 0 127.0.0.1 22}
sshd -T -C "user=$u,host=$1,addr=$1,laddr=$3,lport=$4" 2>&1
