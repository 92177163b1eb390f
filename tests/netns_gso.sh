#!/bin/sh
# UDP segmentation offload, where the path refuses it.  flowgate sends a
# run of equal-sized datagrams as one UDP_SEGMENT datagram; a path whose
# MTU is below a segment answers EINVAL, and flowgate must then send that
# flow's datagrams singly, losing none.  The test makes such a path: a
# network namespace of its own (unshare -rn, no root needed) whose loopback
# has an MTU of 1500, and datagrams of 1600 bytes, which IP fragments.  A
# second run at 1000 bytes, which segment fine, checks the ordinary path
# in the same place.  Exit 77 (skipped) where user and network namespaces
# are not allowed.
set -u
fg=${FLOWGATE:-src/flowgate}
bench=${FG_BENCH:-tests/bench/fg-bench}
name=netns_gso
. "$(dirname "$0")/netns_lib.sh" || exit 1
netns_enter -rn "$@"
netns_tmp

ip link set lo mtu 1500 || exit 1

set -- $("$bench" freeport -n 2) || exit 1
echo_port=$1
fg_port=$2
"$bench" echo-udp -l "127.0.0.1:$echo_port" 2>"$tmp/echo.log" &
pids="$pids $!"
cat >"$tmp/fg.yml" <<EOF
workers: 1
log: {level: debug}
services:
  - name: u
    listen: udp://127.0.0.1:$fg_port
    forward: udp://127.0.0.1:$echo_port
EOF
"$fg" run -c "$tmp/fg.yml" 2>"$tmp/fg.log" &
fgpid=$!
pids="$pids $fgpid"
if ! "$bench" probe udp -t "127.0.0.1:$fg_port" -o 5000 >/dev/null 2>&1; then
	echo "FAIL: no echo through flowgate in the namespace"
	sed 's/^/  /' "$tmp/fg.log"
	exit 1
fi

# gen SIZE: 4 flows, 8 in flight each, for 2 s; every echo checked.  A
# datagram or two may die in IP reassembly on a busy machine; a flow that
# flowgate gave up on would lose everything.
gen() {
	out=$("$bench" udp -t "127.0.0.1:$fg_port" -f 4 -s "$1" -w 8 \
	    -d 2 2>&1)
	st=$?
	sent=$(echo "$out" | sed -n 's/.* sent=\([0-9]*\) .*/\1/p')
	lost=$(echo "$out" | sed -n 's/.* lost=\([0-9]*\) .*/\1/p')
	errors=$(echo "$out" | sed -n 's/.* errors=\([0-9]*\).*/\1/p')
	if [ "$st" -ne 0 ] || [ "${sent:-0}" -lt 1000 ] ||
	    [ "${lost:-1}" -gt $((${sent:-0} / 1000)) ] ||
	    [ "${errors:-1}" -ne 0 ]; then
		bad "$1-byte datagrams through a 1500-byte MTU: $out"
	else
		ok
	fi
	if grep -q "reason=error" "$tmp/fg.log"; then
		bad "$1-byte datagrams: flowgate ended a flow on an error"
		grep "reason=error" "$tmp/fg.log" | head -n 3 | sed 's/^/  /'
	else
		ok
	fi
}

gen 1000
if grep -q "segmentation offload refused" "$tmp/fg.log"; then
	bad "1000-byte segments were refused on a 1500-byte MTU"
else
	ok
fi
gen 1600
# Both halves met the refusal: requests to the echo, replies to us.
n=$(grep -c "segmentation offload refused" "$tmp/fg.log")
if [ "$n" -lt 2 ]; then
	bad "expected the refusal on both halves of a flow, saw $n lines"
	grep -i "flow\|udp" "$tmp/fg.log" | tail -n 20 | sed 's/^/  /'
else
	ok
fi
if ! kill -0 "$fgpid" 2>/dev/null; then
	bad "flowgate exited"
fi

netns_finish
