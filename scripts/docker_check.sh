#!/usr/bin/env bash
# Build the Docker image and check it behaves like the official redis image.
#
#   scripts/docker_check.sh                 # needs a Docker daemon and python:3.11-slim
#   scripts/docker_check.sh --standin-base  # no Docker Hub: build a stand-in base first
#
# --standin-base makes a local image tagged python:3.11-slim (the
# Dockerfile's default base) from Debian
# bookworm (debootstrap, from the Debian mirror) with this machine's CPython
# copied to /usr/local, as the official image lays it out. It is only for
# checking the Dockerfile where Docker Hub cannot be reached; the Python
# inside is the host's, and the image is built on it (--build-arg
# PYTHON_VERSION=the host's version).
#
# Checks: the image builds; the container runs as the non-root sonic user in
# /data; HEALTHCHECK turns healthy; redis-cli works from outside (protected
# mode off, bound to every address); sonic-server flags pass through; docker
# stop (SIGTERM) saves dump.rdb to the /data volume and a new container finds
# the data; a config file path as the argument is used.
# Containers use the host's network (--network host), so this also works
# where dockerd runs with --bridge=none; ports 6379, 6411, 6412 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=sonic:check
build_args=()

if [ "${1:-}" = "--standin-base" ]; then
	rootfs=$(mktemp -d /tmp/sonic-base-XXXX)
	chmod 755 "$rootfs"  # it becomes the image's /, which the sonic user must traverse
	debootstrap --variant=minbase \
		--include=libssl3,libffi8,zlib1g,libbz2-1.0,liblzma5,libsqlite3-0,libreadline8,ca-certificates,netbase \
		bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
	prefix=$(python3 -c 'import sys; print(sys.base_prefix)')
	ver=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/python$ver/site-packages" "$rootfs/usr/local/include"
	cp -a "$prefix/bin/python$ver" "$rootfs/usr/local/bin/"
	ln -sf "python$ver" "$rootfs/usr/local/bin/python3"
	ln -sf python3 "$rootfs/usr/local/bin/python"
	cp -a "$prefix"/lib/libpython"$ver".so* "$rootfs/usr/local/lib/"
	(cd "$prefix/lib/python$ver" && tar -c --exclude=./site-packages --exclude=./test --exclude='*/__pycache__' .) \
		| (cd "$rootfs/usr/local/lib/python$ver" && tar -x)
	(cd "$prefix/lib/python$ver/site-packages" && tar -c pip pip-*.dist-info setuptools setuptools-*.dist-info \
		pkg_resources _distutils_hack distutils-precedence.pth 2>/dev/null) \
		| (cd "$rootfs/usr/local/lib/python$ver/site-packages" && tar -x)
	cp -a "$prefix/include/python$ver" "$rootfs/usr/local/include/"
	printf '#!/bin/sh\nexec /usr/local/bin/python3 -m pip "$@"\n' > "$rootfs/usr/local/bin/pip"
	chmod +x "$rootfs/usr/local/bin/pip"
	chroot "$rootfs" /sbin/ldconfig
	tar -C "$rootfs" -c . | docker import -c 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		-c 'ENV LANG=C.UTF-8' - "python:$ver-slim" >/dev/null
	rm -rf "$rootfs"
	echo "stand-in python:$ver-slim built"
	build_args=(--build-arg "PYTHON_VERSION=$ver")
fi

docker build --network host "${build_args[@]}" -t "$IMAGE" . >/tmp/sonic-docker-build.log
echo "image built"
volume=sonic-check-$$
docker volume create "$volume" >/dev/null
cleanup() {
	docker rm -f sonic-check-a sonic-check-b sonic-check-c >/dev/null 2>&1 || true
	docker volume rm "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Defaults: port 6379, the HEALTHCHECK, the sonic user, /data.
docker run -d --name sonic-check-a --network host -v "$volume:/data" "$IMAGE" >/dev/null
for _ in $(seq 60); do
	[ "$(docker inspect -f '{{.State.Health.Status}}' sonic-check-a)" = healthy ] && break
	sleep 1
done
[ "$(docker inspect -f '{{.State.Health.Status}}' sonic-check-a)" = healthy ] || fail "not healthy"
[ "$(docker exec sonic-check-a id -un)" = sonic ] || fail "not running as sonic"
[ "$(docker exec sonic-check-a pwd)" = /data ] || fail "WORKDIR is not /data"
[ "$(redis-cli -p 6379 config get protected-mode | tail -1)" = no ] || fail "protected mode on"
[ "$(redis-cli -p 6379 set persisted yes)" = OK ] || fail "SET"
docker stop sonic-check-a >/dev/null  # SIGTERM: saves (default save points)
docker exec sonic-check-a true 2>/dev/null && fail "still running"
docker logs sonic-check-a 2>&1 | grep -q "DB saved on disk" || fail "no save on SIGTERM"
echo "defaults, health check, user, SIGTERM save: ok"

# sonic-server flags as arguments; the data comes back from the volume.
docker run -d --name sonic-check-b --network host -v "$volume:/data" "$IMAGE" --port 6411 --requirepass s3cret >/dev/null
for _ in $(seq 30); do redis-cli -p 6411 ping >/dev/null 2>&1 && break; sleep 0.5; done
[ "$(redis-cli -p 6411 ping)" = "NOAUTH Authentication required." ] || fail "requirepass not applied"
[ "$(redis-cli -p 6411 -a s3cret --no-auth-warning get persisted)" = yes ] || fail "data lost across containers"
echo "flags as arguments, volume persistence: ok"

# A config file path as the argument.
conf=$(mktemp /tmp/sonic-check-XXXX.conf)
printf 'port 6412\nmaxmemory 100mb\n' > "$conf"
chmod 644 "$conf"
docker run -d --name sonic-check-c --network host -v "$conf:/etc/sonic.conf:ro" "$IMAGE" /etc/sonic.conf >/dev/null
for _ in $(seq 30); do redis-cli -p 6412 ping >/dev/null 2>&1 && break; sleep 0.5; done
[ "$(redis-cli -p 6412 config get maxmemory | tail -1)" = 104857600 ] || fail "config file not used"
rm -f "$conf"
echo "config file argument: ok"
echo "docker image checks passed"
