#!/usr/bin/env bash
# Builds localhost/debian-base:bullseye (Debian 11, glibc 2.31: the level of Ubuntu 20.04)
# the way ../shared/tools/containers-setup.sh builds its bookworm base: debootstrap from
# the host's Debian mirror, imported with podman. No registry is reachable here.
# Idempotent (2 s once the image exists; about a minute on a bare machine), and
# serialised with a lock, since checkouts side by side may ask for it at once.
# Needs root, podman and debootstrap (the shared setup script installs both).
set -euo pipefail
image=localhost/debian-base:bullseye
podman image exists "$image" && exit 0
exec 9>/tmp/faas-supervisor-debian-bullseye.lock
flock 9
podman image exists "$image" && exit 0
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
rootfs=$(mktemp -d /tmp/rootfs-bullseye.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "[build_bullseye] debootstrap bullseye from $mirror" >&2
debootstrap --variant=minbase bullseye "$rootfs" "$mirror" >/dev/null
tar -C "$rootfs" -c . | podman import -q - "$image" >/dev/null
echo "[build_bullseye] built $image" >&2
