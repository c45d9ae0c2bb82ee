#!/bin/sh
# Container entrypoint, modelled on the official redis image's:
#   docker run sonic                          -> sonic-server (defaults below)
#   docker run sonic --requirepass s3cret     -> sonic-server --requirepass s3cret
#   docker run sonic /data/sonic.conf ...     -> sonic-server /data/sonic.conf ...
#   docker run sonic redis-cli -h host ping   -> runs that command instead
# In a container, clients come from outside the container's loopback, so
# unless the user said otherwise (an option, or a line in the config file)
# sonic-server gets "--protected-mode no" and "--bind * -::*" (every IPv4
# address, and every IPv6 one if the container has IPv6).
set -e

# First argument an option (-x / --x) or a *.conf file: arguments for sonic-server.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- sonic-server "$@"
fi

# Started as root (docker run --user root, or a derived image): give the
# data directory to the sonic user and drop privileges, as the redis image
# does with gosu (setpriv comes with Debian's util-linux).
if [ "$1" = 'sonic-server' ] && [ "$(id -u)" = '0' ] && id sonic >/dev/null 2>&1; then
	find . \! -user sonic -exec chown sonic:sonic '{}' +
	exec setpriv --reuid=sonic --regid=sonic --init-groups "$0" "$@"
fi

if [ "$1" = 'sonic-server' ]; then
	shift
	configFile=
	if [ -f "${1:-}" ]; then
		configFile="$1"
		shift
	fi
	# Is a directive given by an option or by a line of the config file?
	given() {
		name="$1"
		shift
		for arg in "$@"; do
			[ "$arg" = "--$name" ] && return 0
		done
		[ -n "$configFile" ] && grep -qiE "^[[:space:]]*$name([[:space:]]|\$)" "$configFile"
	}
	defaults=
	if ! given protected-mode "$@"; then
		defaults=protected
	fi
	if ! given bind "$@"; then
		defaults="$defaults bind"
	fi
	# Rebuild: sonic-server [config] [container defaults] [user options];
	# set -- is run from the end so each word keeps its quoting.
	case "$defaults" in *bind*) set -- --bind '*' '-::*' "$@" ;; esac
	case "$defaults" in *protected*) set -- --protected-mode no "$@" ;; esac
	if [ -n "$configFile" ]; then
		set -- "$configFile" "$@"
	fi
	set -- sonic-server "$@"

	# Files sonic writes (dumps, logs) private by default, as in the redis image.
	if [ "$(umask)" = '0022' ]; then
		umask 0077
	fi
fi

exec "$@"
