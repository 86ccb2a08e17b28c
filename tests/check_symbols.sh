#!/bin/sh
# The exported dynamic symbols, the version script and the YPR_API
# declarations in the public header must be the same set.
# usage: check_symbols.sh LIBRARY SYMFILE HEADER [NM]
set -eu
lib=$1 sym=$2 hdr=$3 nm=${4:-nm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nm" -D --defined-only "$lib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | sed 's/@.*//' \
  | grep -v '^LIBYOLOPR_' | sort -u > "$tmp/exported"
sed -n '/global:/,/local:/p' "$sym" | grep -o 'ypr_[a-z0-9_]*' | sort -u > "$tmp/script"
tr '\n' ' ' < "$hdr" | grep -o 'YPR_API[^;(]*(' | sed 's/($//' | grep -o 'ypr_[a-z0-9_]*$' \
  | sort -u > "$tmp/header"
status=0
if ! grep -q . "$tmp/exported"; then echo "no symbols exported by $lib"; status=1; fi
if grep -v '^ypr_' "$tmp/exported"; then echo "^ exported symbols without the ypr_ prefix"; status=1; fi
if ! diff -u "$tmp/script" "$tmp/exported"; then echo "version script != exported"; status=1; fi
if ! diff -u "$tmp/header" "$tmp/exported"; then echo "header YPR_API != exported"; status=1; fi
[ $status -eq 0 ] && echo "$(wc -l < "$tmp/exported") symbols: header, version script and library agree"
exit $status
