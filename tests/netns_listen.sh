#!/bin/sh
# Port ownership across reloads, with wildcard addresses.  flowgate refuses
# a port another process holds, but not one its own running services hold:
# a reload that moves a service from 127.0.0.1:P to 0.0.0.0:P (and back)
# must succeed, while a second flowgate on 0.0.0.0:P must not start.
# Wildcard listeners are only opened inside a network namespace of the
# test's own (unshare -rn), whose one interface is loopback.  Exit 77
# (skipped) where user and network namespaces are not allowed.
set -u
fg=${FLOWGATE:-src/flowgate}
bench=${FG_BENCH:-tests/bench/fg-bench}
name=netns_listen
. "$(dirname "$0")/netns_lib.sh" || exit 1
netns_enter -rn "$@"
netns_tmp

port=$("$bench" freeport) || exit 1

# conf ADDR: one UDP and one TCP echo service on ADDR:port.
conf() {
	cat >"$tmp/fg.yml" <<EOF
workers: 2
log: {level: info}
services:
  - {name: u, listen: "udp://$1:$port", forward: "echo://"}
  - {name: t, listen: "tcp://$1:$port", forward: "echo://"}
EOF
}

# reloaded N: wait up to 5 s for the Nth "configuration reloaded" or a
# "reload failed" line.
reloaded() {
	i=0
	while [ $i -lt 50 ]; do
		if grep -q "reload failed\|configuration not reloaded" \
		    "$tmp/fg.log"; then
			return 1
		fi
		[ "$(grep -c "configuration reloaded" "$tmp/fg.log")" -ge "$1" ] &&
		    return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

echo_ok() {
	"$bench" probe udp -t "127.0.0.1:$port" -o 2000 >/dev/null 2>&1 &&
	    "$bench" probe tcp -t "127.0.0.1:$port" -o 2000 >/dev/null 2>&1
}

conf 127.0.0.1
"$fg" run -c "$tmp/fg.yml" 2>"$tmp/fg.log" &
fgpid=$!
pids=$fgpid
i=0
until echo_ok || [ $i -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo_ok && ok || bad "no echo on 127.0.0.1:$port at start"

conf 0.0.0.0
kill -HUP "$fgpid"
if reloaded 1; then ok; else bad "moving to 0.0.0.0:$port failed"; fi
echo_ok && ok || bad "no echo after the move to 0.0.0.0"

# A second flowgate on the wildcard: refused, the first one serves on.
"$fg" run -c "$tmp/fg.yml" 2>"$tmp/second.log" &
second=$!
i=0
while kill -0 "$second" 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 "$second" 2>/dev/null; then
	kill "$second"
	bad "a second flowgate started on 0.0.0.0:$port"
else
	wait "$second"
	st=$?
	if [ "$st" -eq 1 ] && grep -q "another flowgate" "$tmp/second.log"
	then
		ok
	else
		bad "second flowgate: exit $st: $(cat "$tmp/second.log")"
	fi
fi
echo_ok && ok || bad "no echo after the second flowgate was refused"

conf 127.0.0.1
kill -HUP "$fgpid"
if reloaded 2; then ok; else bad "moving back to 127.0.0.1 failed"; fi
echo_ok && ok || bad "no echo after the move back"

if [ "$fail" -ne 0 ]; then
	sed 's/^/  /' "$tmp/fg.log"
fi
netns_finish
