# shellcheck shell=sh
# The Debian 12 packages certkeeper needs, by purpose; sourced by the other tools.
# ck_install_deps GROUP...: installs what is missing with apt-get (idempotent,
# and fast when everything is there already). Needs root.

CK_DEPS_BUILD="meson ninja-build pkg-config gcc libc6-dev libglib2.0-dev libjson-glib-dev
  libgnutls28-dev libsystemd-dev libtss2-dev libdbus-1-dev gettext systemd libtasn1-6-dev"
# the real peers the tests run against (prometheus for promtool; where systemd runs, the
# prometheus packages start their system services: the tests never use those, they start
# their own node_exporter on a free loopback port)
CK_DEPS_TEST="dbus-daemon openssl gnutls-bin util-linux valgrind python3 python3-cryptography pebble certmonger scep softhsm2 prometheus prometheus-node-exporter swtpm swtpm-tools tpm2-tools tpm2-openssl libtss2-tcti-swtpm0"
# the Debian package build and its checks (suite "package")
CK_DEPS_PACKAGE="dpkg-dev build-essential debhelper lintian"
CK_DEPS_QUICKSTART="dbus-daemon openssl"

ck_install_deps() {
	missing=""
	for group in "$@"; do
		case "$group" in
		build) pkgs=$CK_DEPS_BUILD ;;
		test) pkgs=$CK_DEPS_TEST ;;
		package) pkgs=$CK_DEPS_PACKAGE ;;
		quickstart) pkgs=$CK_DEPS_QUICKSTART ;;
		*) echo "ck_install_deps: unknown group $group" >&2; return 2 ;;
		esac
		for pkg in $pkgs; do
			if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
				missing="$missing $pkg"
			fi
		done
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "These Debian packages are missing:$missing" >&2
		echo "Run as root, or install them with: apt-get install$missing" >&2
		return 1
	fi
	echo "Installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# an old or empty package list would make the install fail on a fresh machine
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
}
