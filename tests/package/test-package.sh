#!/bin/sh
# Builds the Debian package from a copy of the source tree and checks it:
# lintian has no errors, the .deb holds every file that matters, the systemd
# unit verifies and its sandbox scores at most SECURITY_THRESHOLD. With root and
# CK_PACKAGE_TEST_INSTALL=1 it also installs the package into this system, runs
# the autopkgtest smoke test against it, and purges it again.
#
# Usage: test-package.sh SOURCE_DIR
# Exit codes (meson's "exitcode" protocol): 0 pass, 1 fail, 77 skip.
# CK_PACKAGE_TEST_KEEP=1 keeps the work directory for a look afterwards.
set -eu

# systemd-analyze security's scale times ten: 30 means an exposure of 3.0.
# The unit scores 2.8 (systemd 252); anything that loosens the sandbox
# noticeably goes above this.
SECURITY_THRESHOLD=30

srcdir=$(cd "${1:?usage: test-package.sh SOURCE_DIR}" && pwd)

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() {
	echo
	echo "### $*"
}

if ! command -v dpkg-buildpackage >/dev/null 2>&1; then
	echo "SKIP: dpkg-buildpackage is not installed (apt-get install devscripts debhelper ...)"
	exit 77
fi
for tool in lintian dpkg-deb systemd-analyze; do
	command -v "$tool" >/dev/null 2>&1 ||
		fail "$tool is not installed; the package test needs it"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/certkeeper-package-XXXXXX")
cleanup() {
	if [ "${CK_PACKAGE_TEST_KEEP:-0}" = 1 ]; then
		echo "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# The test runs under meson test, whose environment is meant for our own test
# binaries; the package build runs its own test suite and must not inherit it.
unset MALLOC_PERTURB_ MESON_TEST_ITERATION G_TEST_SRCDIR G_TEST_BUILDDIR \
	CK_TOP_SRCDIR CK_TOP_BUILDDIR MESON_TESTTHREADS 2>/dev/null || true
if [ -z "${DEB_BUILD_OPTIONS:-}" ]; then
	DEB_BUILD_OPTIONS="parallel=$(nproc)"
	export DEB_BUILD_OPTIONS
fi

step "copy the source tree to $work/src"
# dpkg-buildpackage writes into the source tree (obj-*, debian/certkeeper) and
# its parent (the .deb, .changes, .buildinfo): build in a copy so the real tree
# stays clean. In a git checkout: tracked files plus new files git does not
# ignore, so uncommitted work is tested too; otherwise everything but build
# directories.
mkdir "$work/src"
if command -v git >/dev/null 2>&1 && git -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
		tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null) |
		tar -xf - -C "$work/src"
else
	(cd "$srcdir" && tar --exclude='./_build*' --exclude='./build*' --exclude='./obj-*' \
		--exclude=./.git --exclude=./debian/certkeeper --exclude=./debian/.debhelper \
		-cf - .) | tar -xf - -C "$work/src"
fi
[ -f "$work/src/debian/control" ] || fail "the copy has no debian/control"

step "dpkg-buildpackage -us -uc -b"
if ! (cd "$work/src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -n 80 "$work/build.log" >&2
	if grep -q "Unmet build dependencies" "$work/build.log"; then
		fail "dpkg-buildpackage: unmet build dependencies (see above); apt-get install them"
	fi
	fail "dpkg-buildpackage failed (last lines above)"
fi
tail -n 5 "$work/build.log"

# One build, one version: the globs match exactly one file each (the -dbgsym
# package does not match certkeeper_*).
changes=$(echo "$work"/certkeeper_*.changes)
deb=$(echo "$work"/certkeeper_*.deb)
[ -f "$changes" ] || fail "expected one .changes file in $work, found: $changes"
[ -f "$deb" ] || fail "expected one certkeeper .deb in $work, found: $deb"
echo "built $(basename "$deb")"

step "lintian $(basename "$changes")"
# lintian exits non-zero for warnings in some versions: judge by its output.
lintian "$changes" >"$work/lintian.log" 2>&1 || true
cat "$work/lintian.log"
if grep -q '^E: ' "$work/lintian.log"; then
	fail "lintian reports errors (E: lines above)"
fi
echo "ok: no lintian errors"

step "contents of $(basename "$deb")"
dpkg-deb -c "$deb" >"$work/contents.txt"
missing=0
# The unit directory is /lib/systemd/system on Debian 12, /usr/lib/... later.
for path in \
	'usr/sbin/certkeeperd' \
	'usr/bin/certkeeper' \
	'usr/libexec/certkeeper/certkeeper-acme' \
	'usr/libexec/certkeeper/certkeeper-scep' \
	'(usr/)?lib/systemd/system/certkeeperd\.service' \
	'(usr/)?lib/systemd/system/certkeeper-health\.service' \
	'(usr/)?lib/systemd/system/certkeeper-health\.timer' \
	'usr/share/dbus-1/system\.d/org\.certkeeper\.Certkeeper1\.conf' \
	'usr/share/dbus-1/system-services/org\.certkeeper\.Certkeeper1\.service' \
	'usr/share/dbus-1/interfaces/org\.certkeeper\.Manager1\.xml' \
	'usr/share/dbus-1/interfaces/org\.certkeeper\.Request1\.xml' \
	'etc/certkeeper/certkeeper\.conf' \
	'usr/share/certkeeper/prometheus/certkeeper-alerts\.yml' \
	'usr/share/certkeeper/grafana/certkeeper-dashboard\.json' \
	'usr/share/locale/de/LC_MESSAGES/certkeeper\.mo'; do
	if grep -Eq " \./$path\$" "$work/contents.txt"; then
		echo "ok: $path"
	else
		echo "MISSING: $path" >&2
		missing=1
	fi
done
if [ "$missing" -ne 0 ]; then
	cat "$work/contents.txt" >&2
	fail "the .deb lacks files (MISSING lines above)"
fi
# dh_installdeb marks /etc files as conffiles; a config file that is not one
# would be overwritten on upgrade.
dpkg-deb -I "$deb" conffiles | grep -qx '/etc/certkeeper/certkeeper.conf' ||
	fail "/etc/certkeeper/certkeeper.conf is not a conffile"
# dh_installsystemd must have added the enable/start snippets for the unit.
dpkg-deb -I "$deb" postinst | grep -q 'deb-systemd-helper.*certkeeperd\.service' ||
	fail "postinst does not enable certkeeperd.service (dh_installsystemd)"
# The weekly health check is installed, never enabled by the package: its
# snippet is dh_installsystemd --no-enable's, which only keeps an administrator's
# own enabling across upgrades (behind "debian-installed").
dpkg-deb -I "$deb" postinst >"$work/postinst"
grep -q "deb-systemd-helper debian-installed 'certkeeper-health.timer'" "$work/postinst" ||
	fail "postinst treats certkeeper-health.timer as enabled by the package (--no-enable)"
if grep -q "deb-systemd-helper debian-installed 'certkeeperd.service'" "$work/postinst"; then
	fail "postinst no longer enables certkeeperd.service"
fi
echo "ok: conffile and postinst"

step "systemd-analyze verify"
# --root: the unit is checked as installed, ExecStart's binary included. The
# root also needs the host's units (dbus.socket, sysinit.target, ...) to
# resolve the unit's dependencies, so copy them in before the package.
root="$work/root"
# Both directories: without merged /usr they hold different units.
for hostunits in /lib/systemd/system /usr/lib/systemd/system; do
	if [ -d "$hostunits" ]; then
		mkdir -p "$root$hostunits"
		cp -a "$hostunits/." "$root$hostunits/"
	fi
done
dpkg-deb -x "$deb" "$root"
# The programs the unit runs that the package does not ship (ExecReload's
# kill, from procps, a dependency of every Debian system) must be there too.
for program in /bin/kill; do
	mkdir -p "$root$(dirname "$program")"
	cp -a "$(readlink -f "$program")" "$root$program"
done
unit=
for candidate in lib/systemd/system/certkeeperd.service usr/lib/systemd/system/certkeeperd.service; do
	if [ -f "$root/$candidate" ]; then
		unit=$candidate
	fi
done
[ -n "$unit" ] || fail "certkeeperd.service not found in the extracted package"
rc=0
systemd-analyze verify --root="$root" "/$unit" >"$work/verify.log" 2>&1 || rc=$?
cat "$work/verify.log"
# An unknown key or section only warns (and exits 0): look for it.
if grep 'certkeeperd' "$work/verify.log" |
	grep -Eq 'Unknown (key|section|lvalue)|Failed to parse|[Ii]nvalid'; then
	fail "systemd-analyze verify: the unit has settings systemd does not understand"
fi
[ "$rc" -eq 0 ] || fail "systemd-analyze verify failed (exit $rc)"
echo "ok: the unit verifies"
for health in certkeeper-health.service certkeeper-health.timer; do
	rc=0
	systemd-analyze verify --root="$root" "/$(dirname "$unit")/$health" \
		>"$work/verify-health.log" 2>&1 || rc=$?
	cat "$work/verify-health.log"
	if grep -Eq 'Unknown (key|section|lvalue)|Failed to parse|[Ii]nvalid' \
		"$work/verify-health.log"; then
		fail "systemd-analyze verify: $health has settings systemd does not understand"
	fi
	[ "$rc" -eq 0 ] || fail "systemd-analyze verify $health failed (exit $rc)"
done
echo "ok: the health check's units verify"

step "the packaged certkeeperd accepts the packaged certkeeper.conf"
# An address nobody listens on: certkeeperd loads its configuration and opens
# its state directory first, so the only complaint must be about the bus.
rc=0
"$root/usr/sbin/certkeeperd" --config="$root/etc/certkeeper/certkeeper.conf" \
	--state-dir="$work/state" --bus="unix:path=$work/no-bus" >"$work/config.log" 2>&1 || rc=$?
cat "$work/config.log"
[ "$rc" -ne 0 ] || fail "certkeeperd ran without a bus"
if grep -q 'certkeeper\.conf' "$work/config.log"; then
	fail "certkeeperd complains about the shipped certkeeper.conf"
fi
grep -q 'no-bus' "$work/config.log" ||
	fail "certkeeperd failed before it reached the bus (see above)"
echo "ok: the configuration loads without warnings"

step "systemd-analyze security --offline=true --threshold=$SECURITY_THRESHOLD"
rc=0
systemd-analyze security --offline=true --root="$root" --threshold="$SECURITY_THRESHOLD" \
	"/$unit" >"$work/security.log" 2>&1 || rc=$?
cat "$work/security.log"
[ "$rc" -eq 0 ] || fail "the unit's exposure is above $SECURITY_THRESHOLD/10 (or the analysis failed)"
echo "ok: exposure within $SECURITY_THRESHOLD/10"

if [ "${CK_PACKAGE_TEST_INSTALL:-0}" = 1 ] && [ "$(id -u)" = 0 ]; then
	step "dpkg -i, smoke test, dpkg -P (CK_PACKAGE_TEST_INSTALL=1)"
	# Never touch a certkeeper someone installed for real.
	if dpkg-query -W -f='${Status}' certkeeper 2>/dev/null | grep -q 'installed'; then
		fail "certkeeper is already installed here; the install test would purge it"
	fi
	purge() {
		dpkg -P certkeeper >"$work/purge.log" 2>&1 || true
		cleanup
	}
	trap purge EXIT
	dpkg -i "$deb" || fail "dpkg -i failed"
	# No systemd as PID 1 is fine: the unit is enabled, starting it is skipped.
	[ -L /etc/systemd/system/multi-user.target.wants/certkeeperd.service ] ||
		fail "dpkg -i did not enable certkeeperd.service"
	mkdir "$work/smoke"
	AUTOPKGTEST_TMP="$work/smoke" sh "$work/src/debian/tests/smoke" ||
		fail "the autopkgtest smoke test failed against the installed package"
	dpkg -P certkeeper || fail "dpkg -P failed"
	trap cleanup EXIT
	for path in /usr/sbin/certkeeperd /etc/certkeeper/certkeeper.conf \
		/etc/systemd/system/multi-user.target.wants/certkeeperd.service; do
		if [ -e "$path" ] || [ -L "$path" ]; then
			fail "$path is still there after dpkg -P"
		fi
	done
	echo "ok: installs, works, purges"
else
	echo
	echo "(install test not run: it needs root and CK_PACKAGE_TEST_INSTALL=1)"
fi

echo
echo "PASS"
