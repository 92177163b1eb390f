#!/bin/sh
# flowgate check accepts the shipped example and the built-in default, and
# rejects a broken file with file:line:col.
set -u
fg=${FLOWGATE:-src/flowgate}
confdir=${FG_CONFDIR:-conf}
fail=0

out=$("$fg" check -c "$confdir/flowgate.yml" 2>&1)
if [ $? -ne 0 ] || [ "$out" != "configuration OK" ]; then
	echo "FAIL: conf/flowgate.yml: $out"
	fail=1
fi
out=$("$fg" check 2>&1)
if [ $? -ne 0 ] || [ "$out" != "configuration OK" ]; then
	echo "FAIL: built-in default: $out"
	fail=1
fi
tmp=$(mktemp)
printf 'services:\n  - name: x\n    listen: udp://127.0.0.1:0\n    forward: udp://127.0.0.1:9\n    bogus: 1\n' >"$tmp"
out=$("$fg" check -c "$tmp" 2>&1)
rc=$?
if [ $rc -ne 1 ] || ! printf '%s' "$out" | grep -q "^$tmp:5:5: .*bogus"; then
	echo "FAIL: broken config: rc=$rc: $out"
	fail=1
fi
rm -f "$tmp"
out=$("$fg" frobnicate 2>&1)
if [ $? -ne 2 ]; then
	echo "FAIL: unknown command should exit 2: $out"
	fail=1
fi
[ $fail -eq 0 ] && echo "conf_check: 4 passed, 0 failed"
exit $fail
