#!/bin/sh
# Puts the sshd configuration in force for new connections; prints how.
#   $1 1: restart sshd when it is not running (after a rollback), else 0
restart_if_down=$1
if systemctl is-active --quiet ssh.service 2>/dev/null; then
  # The sshd daemon (also when Debian 12's ssh.socket, Accept=no, started it):
  # it reads its configuration only at start and on SIGHUP.
  if [ "$restart_if_down" = 1 ]; then
    systemctl reload ssh.service || systemctl restart ssh.service
  else
    systemctl reload ssh.service
  fi
  if systemctl is-active --quiet ssh.socket 2>/dev/null; then echo 'ssh.service via ssh.socket'; else echo ssh.service; fi
elif systemctl is-active --quiet ssh.socket 2>/dev/null; then
  # inetd-style socket activation (ssh.socket with Accept=yes + ssh@.service):
  # every connection starts its own "sshd -i", which reads the configuration
  # files itself. There is no daemon to reload; new connections already use
  # the new drop-in.
  echo ssh.socket
elif [ -s /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; then
  kill -HUP "$(cat /run/sshd.pid)"
  echo sshd-pid
elif [ "$restart_if_down" = 1 ] && systemctl is-enabled --quiet ssh.service 2>/dev/null; then
  systemctl restart ssh.service
  echo ssh.service-restarted
else
  echo none
fi
