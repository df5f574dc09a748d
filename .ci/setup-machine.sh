#!/usr/bin/env bash
# Installs, once per machine, what the test suite needs: real SMTP clients and
# servers to test against, and the system users the privileged tests use.
# Safe to run again: every step checks first.
set -euo pipefail

need_apt=()
command -v swaks >/dev/null || need_apt+=(swaks)
# Dovecot's LMTP server: the local delivery tests deliver to it
# (crates/smtpd/tests/delivery_lmtp.rs starts it in a config of its own).
[ -x /usr/lib/dovecot/lmtp ] || need_apt+=(dovecot-lmtpd)
if [ ${#need_apt[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 -c 'import aiosmtpd' 2>/dev/null || pip install -q aiosmtpd

if [ "$(id -u)" = 0 ]; then
  # The unprivileged users of the privilege-separated processes.
  getent group _smtpd >/dev/null || groupadd -r _smtpd
  getent passwd _smtpd >/dev/null || useradd -r -g _smtpd -d /var/empty -s /usr/sbin/nologin _smtpd
  getent group _smtpq >/dev/null || groupadd -r _smtpq
  getent passwd _smtpq >/dev/null || useradd -r -g _smtpq -d /var/empty -s /usr/sbin/nologin _smtpq
  mkdir -p /var/empty && chmod 0755 /var/empty
  # Ordinary mail users for delivery tests (as-the-user deliveries, .forward).
  for u in smtpdtest1 smtpdtest2; do
    getent passwd $u >/dev/null || useradd -m -s /bin/sh $u
  done
fi
