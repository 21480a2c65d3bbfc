#!/usr/bin/env bash
# Mount rokkafs's WebDAV face on Linux with davfs2.
#
# What it does: writes the API key into a davfs2 secrets file of its own (mode 0600) and a
# davfs2 configuration pointing at it, then mounts URL at MOUNTPOINT. Unmount with
# `umount MOUNTPOINT`.
# What it needs: the davfs2 package, root (or a user in the davfs2 group with an fstab entry,
# see fstab.example), and the API key in ROKKAFS_API_KEY.
#
# Usage: ROKKAFS_API_KEY=... linux-davfs2.sh https://images.example.org/dav/ /mnt/images [CONFDIR]
set -euo pipefail
url="${1:?usage: linux-davfs2.sh URL MOUNTPOINT [CONFDIR]}"
mountpoint="${2:?usage: linux-davfs2.sh URL MOUNTPOINT [CONFDIR]}"
confdir="${3:-${XDG_CONFIG_HOME:-$HOME/.config}/rokkafs/davfs2}"
: "${ROKKAFS_API_KEY:?set ROKKAFS_API_KEY to your rokkafs API key}"

mkdir -p "$confdir" "$mountpoint"
umask 077
printf '%s %s %s\n' "$url" "${ROKKAFS_USER:-rokkafs}" "$ROKKAFS_API_KEY" > "$confdir/secrets"
printf 'secrets %s\nuse_locks 1\n' "$confdir/secrets" > "$confdir/davfs2.conf"
exec mount.davfs -o "conf=$confdir/davfs2.conf" "$url" "$mountpoint"
