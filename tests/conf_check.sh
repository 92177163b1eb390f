#!/bin/sh
# flowgate check accepts the shipped example (with certificates made by
# "flowgate certs" beside it) and the built-in default, and rejects a broken
# file or a missing certificate with file:line:col; probe and certs refuse
# bad usage.
set -u
fg=${FLOWGATE:-src/flowgate}
confdir=${FG_CONFDIR:-conf}
pass=0
fail=0

ok() {
	pass=$((pass + 1))
}

bad() {
	echo "FAIL: $*"
	fail=$((fail + 1))
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/conf_check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
# The built-in default makes development certificates on first use; keep
# them out of the home directory when run by hand.
FLOWGATE_STATE_DIR=${FLOWGATE_STATE_DIR:-$tmp/state}
export FLOWGATE_STATE_DIR

# The example, in a directory of its own with the certificates that its
# relative file names refer to.  Checked from elsewhere, so the names must
# be resolved against the file's directory, not the working directory.
mkdir "$tmp/etc" && cp "$confdir/flowgate.yml" "$tmp/etc/flowgate.yml"
out=$("$fg" certs -d "$tmp/etc" 2>&1)
if [ $? -ne 0 ] || [ ! -f "$tmp/etc/server.crt" ]; then
	bad "flowgate certs -d: $out"
else
	ok
fi
out=$("$fg" check -c "$tmp/etc/flowgate.yml" 2>&1)
if [ $? -ne 0 ] || [ "$out" != "configuration OK" ]; then
	bad "conf/flowgate.yml with certificates: $out"
else
	ok
fi

# The same file without its certificates: an error of the service that
# needs them, at its line and column, naming the file.
mkdir "$tmp/nocerts" && cp "$confdir/flowgate.yml" "$tmp/nocerts/flowgate.yml"
out=$("$fg" check -c "$tmp/nocerts/flowgate.yml" 2>&1)
rc=$?
if [ $rc -ne 1 ] || ! printf '%s\n' "$out" |
    grep -q "^$tmp/nocerts/flowgate.yml:[0-9]*:[0-9]*: services\[[0-9]*\]\.tls: .*\.crt"; then
	bad "missing certificate: rc=$rc: $out"
else
	ok
fi

# The first use of a state directory logs that it made the development
# certificates; only standard output is the verdict.
out=$("$fg" check 2>"$tmp/default.err")
if [ $? -ne 0 ] || [ "$out" != "configuration OK" ] ||
    [ ! -f "$FLOWGATE_STATE_DIR/ca.crt" ]; then
	bad "built-in default: $out $(cat "$tmp/default.err")"
else
	ok
fi

printf 'services:\n  - name: x\n    listen: udp://127.0.0.1:0\n    forward: udp://127.0.0.1:9\n    bogus: 1\n' >"$tmp/broken.yml"
out=$("$fg" check -c "$tmp/broken.yml" 2>&1)
rc=$?
if [ $rc -ne 1 ] || ! printf '%s' "$out" | grep -q "^$tmp/broken.yml:5:5: .*bogus"; then
	bad "broken config: rc=$rc: $out"
else
	ok
fi

out=$("$fg" frobnicate 2>&1)
if [ $? -ne 2 ]; then
	bad "unknown command should exit 2: $out"
else
	ok
fi

out=$("$fg" probe 2>&1)
rc=$?
if [ $rc -ne 2 ] || ! printf '%s' "$out" | grep -q "usage: flowgate probe"; then
	bad "probe without a URL should exit 2: rc=$rc: $out"
else
	ok
fi

out=$("$fg" certs -D 0 -d "$tmp/days0" 2>&1)
rc=$?
if [ $rc -eq 0 ] || [ -e "$tmp/days0/ca.crt" ]; then
	bad "certs -D 0 should fail: rc=$rc: $out"
else
	ok
fi

echo "conf_check: $pass passed, $fail failed"
[ $fail -eq 0 ]
