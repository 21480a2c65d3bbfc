#!/bin/sh
# Mount rokkafs's WebDAV face in macOS Finder from the command line.
#
# What it does: mounts URL at ~/rokkafs with mount_webdav (Finder shows it like any server;
# Go → Connect to Server… with the same URL does the same by hand). Finder asks for user and
# password: any user name, the API key as password (keep it in the keychain).
# What it needs: macOS; rokkafs reachable over HTTPS for anything beyond localhost.
# Usage: macos-finder.sh https://images.example.org/dav/
set -eu
url="${1:?usage: macos-finder.sh URL}"
mkdir -p "$HOME/rokkafs"
exec /sbin/mount_webdav -i "$url" "$HOME/rokkafs"
