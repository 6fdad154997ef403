#!/bin/sh
# usage: check-po.sh SRCDIR  -- fails on format errors, fuzzy or untranslated messages vs. the sources
set -eu
src=$1; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$src"
xgettext --from-code=UTF-8 --add-comments=TRANSLATORS: --keyword=_ --keyword=N_ --keyword=C_:1c,2 \
  --keyword=NC_:1c,2 --keyword=g_dngettext:2,3 --flag=g_dngettext:2:pass-c-format \
  --files-from=po/POTFILES.in -o "$tmp/all.pot"
for lang in $(cat po/LINGUAS); do
  msgmerge --quiet --no-fuzzy-matching -o "$tmp/$lang.po" "po/$lang.po" "$tmp/all.pot"
  stats=$(msgfmt --check --statistics -o /dev/null "$tmp/$lang.po" 2>&1) || { echo "$lang: $stats"; exit 1; }
  echo "$lang: $stats"
  case $stats in *fuzzy*|*untranslated*) exit 1;; esac
done
