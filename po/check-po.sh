#!/bin/sh
# usage: check-po.sh SRCDIR
# Fails when a source file with translatable strings is missing from POTFILES.in,
# and when a catalog has format errors, fuzzy or untranslated messages against
# the sources as they are now.
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
status=0
for file in daemon/*.c daemon/helpers/*.c client/*.c; do
	if grep -q -e '_("' -e 'N_("' "$file" && ! grep -qx "$file" po/POTFILES.in; then
		echo "$file has translatable strings but is not in po/POTFILES.in"
		status=1
	fi
done
xgettext --from-code=UTF-8 --add-comments=TRANSLATORS: --keyword=_ --keyword=N_ --keyword=C_:1c,2 \
	--keyword=NC_:1c,2 --keyword=g_dngettext:2,3 --flag=g_dngettext:2:pass-c-format \
	--files-from=po/POTFILES.in -o "$tmp/all.pot"
for lang in $(cat po/LINGUAS); do
	msgmerge --quiet --no-fuzzy-matching -o "$tmp/$lang.po" "po/$lang.po" "$tmp/all.pot"
	stats=$(msgfmt --check --statistics -o /dev/null "$tmp/$lang.po" 2>&1) || {
		echo "$lang: $stats"
		exit 1
	}
	echo "$lang: $stats"
	case $stats in *fuzzy* | *untranslated*) status=1 ;; esac
done
exit $status
