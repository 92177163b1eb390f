# Shared by the tests/netns_*.sh scripts, sourced after they set "name".
# netns_enter FLAGS ARGS...: re-run the calling script inside namespaces
# made with "unshare FLAGS" (-rn: user and network; -rmn: mount as well),
# or exit 77 (skipped) where they are not allowed.  Inside, loopback is up
# and ok/bad count checks; netns_finish reports and sets the exit status.
# The variable pids holds background processes to stop at exit, tmp a
# scratch directory removed then.

netns_enter() {
	flags=$1
	shift
	if [ "${1:-}" = --inside ]; then
		ip link set lo up || exit 1
		return 0
	fi
	if ! command -v unshare >/dev/null 2>&1 ||
	    ! command -v ip >/dev/null 2>&1 ||
	    ! unshare "$flags" true 2>/dev/null; then
		echo "$name: unshare or ip missing, or \"unshare $flags\" is" \
		    "not allowed here: skipped"
		exit 77
	fi
	exec unshare "$flags" sh "$0" --inside
}

pass=0
fail=0
pids=""
tmp=""

ok() {
	pass=$((pass + 1))
}

bad() {
	echo "FAIL: $*"
	fail=$((fail + 1))
}

netns_cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
}

# netns_tmp: make the scratch directory and arrange the cleanup.
netns_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 1
	trap netns_cleanup EXIT
	trap 'exit 1' HUP INT TERM
}

netns_finish() {
	echo "$name: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
