#!/bin/sh
# Names with several addresses.  A forward endpoint given by name whose
# first address has nothing listening must not fail every flow: tcp and
# tls-stream try the next address within the connect deadline, and udp
# moves on when the first address answers port unreachable before it ever
# answered a datagram; a dtls client does the same when the port
# unreachable comes during its handshake, and both skip an address they
# cannot send to at all.  The test needs names with two addresses, so it
# runs in user, mount and network namespaces of its own (unshare -rmn),
# with a private /etc/hosts bind-mounted over the real one, in which
# "fg-multi" is 127.0.0.2 (nothing there) and then 127.0.0.1 (the echo
# servers), and "fg-v6dead" 2001:db8::1 (no route to it) and then
# 127.0.0.1.  Exit 77 (skipped) where such namespaces are not allowed.
set -u
fg=${FLOWGATE:-src/flowgate}
bench=${FG_BENCH:-tests/bench/fg-bench}
name=netns_names
. "$(dirname "$0")/netns_lib.sh" || exit 1
netns_enter -rmn "$@"
netns_tmp

printf '127.0.0.1 localhost\n127.0.0.2 fg-multi\n127.0.0.1 fg-multi\n' \
    >"$tmp/hosts"
printf '2001:db8::1 fg-v6dead\n127.0.0.1 fg-v6dead\n' >>"$tmp/hosts"
if ! mount --bind "$tmp/hosts" /etc/hosts 2>/dev/null; then
	echo "netns_names: cannot bind-mount a private /etc/hosts: skipped"
	exit 77
fi

set -- $("$bench" freeport -n 9) || exit 1
eu=$1
et=$2
fu=$3
ft=$4
ag=$5	# the agent: tls-stream and dtls on one port number
fs=$6
fd=$7
fu6=$8
fd6=$9
"$fg" certs -d "$tmp/c" >/dev/null || exit 1
c=$tmp/c
"$bench" echo-udp -l "127.0.0.1:$eu" 2>"$tmp/echo-udp.log" &
pids="$pids $!"
"$bench" echo-tcp -l "127.0.0.1:$et" 2>"$tmp/echo-tcp.log" &
pids="$pids $!"
cat >"$tmp/fg.yml" <<EOF
workers: 1
log: {level: info}
services:
  - name: u
    listen: udp://127.0.0.1:$fu
    forward: udp://fg-multi:$eu
  - name: t
    listen: tcp://127.0.0.1:$ft
    forward: tcp://fg-multi:$et
    connect_timeout: 3s
  - name: ts
    listen: tcp://127.0.0.1:$fs
    forward: tls-stream://fg-multi:$ag
    destination: 127.0.0.1:$et
    connect_timeout: 3s
    tls: {ca: $c/ca.crt, cert: $c/client.crt, key: $c/client.key}
  - name: ds
    listen: udp://127.0.0.1:$fd
    forward: dtls://fg-multi:$ag
    destination: 127.0.0.1:$eu
    tls: {ca: $c/ca.crt, cert: $c/client.crt, key: $c/client.key}
  - name: u6
    listen: udp://127.0.0.1:$fu6
    forward: udp://fg-v6dead:$eu
  - name: d6
    listen: udp://127.0.0.1:$fd6
    forward: dtls://fg-v6dead:$ag
    destination: 127.0.0.1:$eu
    tls: {ca: $c/ca.crt, cert: $c/client.crt, key: $c/client.key}
  - name: agent
    listen: tls-stream://127.0.0.1:$ag
    allow: [127.0.0.0/8]
    tls: {ca: $c/ca.crt, cert: $c/server.crt, key: $c/server.key}
  - name: agentu
    listen: dtls://127.0.0.1:$ag
    allow: [127.0.0.0/8]
    tls: {ca: $c/ca.crt, cert: $c/server.crt, key: $c/server.key}
EOF
"$fg" run -c "$tmp/fg.yml" 2>"$tmp/fg.log" &
fgpid=$!
pids="$pids $fgpid"

# echo_ok udp|tcp PORT WHAT: an echo through 127.0.0.1:PORT within 5 s
# (the probe resends until one comes).
echo_ok() {
	if "$bench" probe "$1" -t "127.0.0.1:$2" -o 5000 >/dev/null 2>&1; then
		ok
	else
		bad "no $1 echo through $3"
	fi
}

# log_ok PATTERN WHAT: a line of flowgate's log matches.
log_ok() {
	if grep -q "$1" "$tmp/fg.log"; then
		ok
	else
		bad "no '$2' line"
	fi
}

# The UDP probe's first datagram reaches 127.0.0.2, whose port unreachable
# moves the flow on.
echo_ok udp "$fu" "a name whose first address is dead"
log_ok "destination refused, trying the next address dst=127.0.0.2:$eu next=127.0.0.1:$eu" \
    "trying the next address (udp)"
echo_ok tcp "$ft" "a name whose first address is dead"
# The tunnels: 127.0.0.2 refuses the TCP connect and answers the DTLS
# ClientHello with port unreachable; both go on to 127.0.0.1.
echo_ok tcp "$fs" "a tls-stream tunnel to a name whose first address is dead"
echo_ok udp "$fd" "a dtls tunnel to a name whose first address is dead"
log_ok "destination refused, trying the next address dst=127.0.0.2:$ag next=127.0.0.1:$ag service=ds " \
    "trying the next address (dtls)"
# 2001:db8::1 has no route here: the socket cannot even be connected, and
# the flows go on to 127.0.0.1 at once.
echo_ok udp "$fu6" "a name whose first address has no route"
echo_ok udp "$fd6" "a dtls tunnel to a name whose first address has no route"
# A whole UDP run afterwards, every echo checked.
out=$("$bench" udp -t "127.0.0.1:$fu" -f 4 -s 200 -w 4 -d 1 2>&1)
case "$out" in
*" errors=0"*) ok ;;
*) bad "udp run: $out" ;;
esac

if [ "$fail" -ne 0 ]; then
	sed 's/^/  /' "$tmp/fg.log"
fi
netns_finish
