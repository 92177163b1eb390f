#!/bin/sh
# Interoperability with the stacks GoDoxy runs on: Go's crypto/tls and
# pion/dtls, driven by tests/interop/godoxy-peer (a GoDoxy agent stand-in
# and GoDoxy-server-side client calls, written from the spec).  Both
# directions, TCP over TLS and UDP over DTLS, health checks both ways.
# Skips (77) when Go or Debian's pion/dtls package is not installed.
set -u

fg=${FLOWGATE:-src/flowgate}
srcdir=$(cd "$(dirname "$0")" && pwd)
gopath=${FG_GOPATH:-/usr/share/gocode}
if ! command -v go >/dev/null 2>&1 ||
    [ ! -d "$gopath/src/github.com/pion/dtls/v2" ]; then
	echo "go or pion/dtls (golang-github-pion-dtls.v2-dev) missing: skipped"
	exit 77
fi

tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
	for f in "$tmp"/*.log; do echo "---- $f"; tail -n 40 "$f"; done
}

# Wait up to 10 s for a file to exist.
wait_file() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$1" ]
}

port_of() {	# service name, port file
	awk -v n="$1" '$1 == n { sub(/.*:/, "", $3); print $3 }' "$2"
}

echo "building godoxy-peer"
if ! (cd "$srcdir/godoxy-peer" && GO111MODULE=off GOPATH="$gopath" \
    GOCACHE="$tmp/gocache" GOFLAGS= go build -o "$tmp/godoxy-peer" .) \
    >"$tmp/build.log" 2>&1; then
	cat "$tmp/build.log"
	echo "godoxy interop: 0 passed, 1 failed"
	exit 1
fi
peer=$tmp/godoxy-peer
"$fg" certs -d "$tmp/c" >/dev/null || { echo "certs failed"; exit 1; }
c=$tmp/c

# flowgate as the agent (and the echo servers behind it).
cat >"$tmp/agent.yml" <<YML
workers: 1
log: {level: debug}
tls: {ca: $c/ca.crt, cert: $c/server.crt, key: $c/server.key}
services:
  - name: te
    listen: tcp://127.0.0.1:0
    forward: echo://
  - name: ue
    listen: udp://127.0.0.1:0
    forward: echo://
  - name: agent
    listen: tls-stream://127.0.0.1:0
    allow: [127.0.0.0/8]
  - name: agentu
    listen: dtls://127.0.0.1:0
    allow: [127.0.0.0/8]
YML
"$fg" run -c "$tmp/agent.yml" -P "$tmp/agent.ports" >"$tmp/agent.log" 2>&1 &
pids="$pids $!"
wait_file "$tmp/agent.ports" || { bad "flowgate agent did not start"; exit 1; }
te=$(port_of te "$tmp/agent.ports")
ue=$(port_of ue "$tmp/agent.ports")
ag=$(port_of agent "$tmp/agent.ports")
agu=$(port_of agentu "$tmp/agent.ports")

# The Go agent, dialling flowgate's echo services.
"$peer" server -ca "$c/ca.crt" -cert "$c/server.crt" -key "$c/server.key" \
    -portfile "$tmp/go.ports" >"$tmp/go-agent.log" 2>&1 &
pids="$pids $!"
wait_file "$tmp/go.ports" || { bad "go agent did not start"; exit 1; }
gt=$(cut -d' ' -f1 "$tmp/go.ports")
gu=$(cut -d' ' -f2 "$tmp/go.ports")

cc="-ca $c/ca.crt -cert $c/client.crt -key $c/client.key"

# 1-4: Go's client calls against flowgate as the agent.
# shellcheck disable=SC2086
out=$("$peer" tcp-echo -addr 127.0.0.1:"$ag" -dest 127.0.0.1:"$te" $cc 2>&1) &&
    [ "$out" = "OK tcp-echo 1" ] && ok "go tls client -> flowgate tls-stream" ||
    bad "go tls client -> flowgate tls-stream: $out"
# shellcheck disable=SC2086
out=$("$peer" tcp-health -addr 127.0.0.1:"$ag" $cc 2>&1) &&
    grep -q "health check received service=agent" "$tmp/agent.log" &&
    ok "go tls health -> flowgate" || bad "go tls health -> flowgate: $out"
# shellcheck disable=SC2086
out=$("$peer" udp-echo -addr 127.0.0.1:"$agu" -dest 127.0.0.1:"$ue" -n 5 \
    $cc 2>&1) && [ "$out" = "OK udp-echo 5" ] &&
    ok "pion dtls client -> flowgate dtls" ||
    bad "pion dtls client -> flowgate dtls: $out"
# shellcheck disable=SC2086
out=$("$peer" udp-echo -addr 127.0.0.1:"$agu" -dest 127.0.0.1:"$ue" -n 2 \
    -size 8155 $cc 2>&1) && ok "pion dtls client, 8155-byte datagrams" ||
    bad "pion dtls client, 8155-byte datagrams: $out"
# shellcheck disable=SC2086
out=$("$peer" udp-health -addr 127.0.0.1:"$agu" $cc 2>&1) &&
    grep -q "health check received service=agentu" "$tmp/agent.log" &&
    ok "pion dtls health -> flowgate" || bad "pion dtls health -> flowgate: $out"

# 5-8: flowgate as the GoDoxy server side against the Go agent.
cat >"$tmp/client.yml" <<YML
workers: 1
log: {level: debug}
tls: {ca: $c/ca.crt, cert: $c/client.crt, key: $c/client.key}
services:
  - name: tc
    listen: tcp://127.0.0.1:0
    forward: tls-stream://127.0.0.1:$gt
    destination: 127.0.0.1:$te
  - name: uc
    listen: udp://127.0.0.1:0
    forward: dtls://127.0.0.1:$gu
    destination: 127.0.0.1:$ue
YML
"$fg" run -c "$tmp/client.yml" -P "$tmp/client.ports" >"$tmp/client.log" 2>&1 &
pids="$pids $!"
wait_file "$tmp/client.ports" || { bad "flowgate client did not start"; exit 1; }
tc=$(port_of tc "$tmp/client.ports")
uc=$(port_of uc "$tmp/client.ports")

out=$(printf 'through the go agent' | timeout 10 socat -t 2 - \
    TCP:127.0.0.1:"$tc" 2>&1)
[ "$out" = "through the go agent" ] && ok "flowgate tls-stream client -> go agent" ||
    bad "flowgate tls-stream client -> go agent: '$out'"
out=$(printf 'a datagram via pion' | timeout 10 socat -T 5 - \
    UDP:127.0.0.1:"$uc" 2>&1)
[ "$out" = "a datagram via pion" ] && ok "flowgate dtls client -> pion agent" ||
    bad "flowgate dtls client -> pion agent: '$out'"
# shellcheck disable=SC2086
# A generous deadline: under the sanitizers the Go agent can be slow.
out=$("$fg" probe -t 15s -a "$c/ca.crt" -c "$c/client.crt" -k "$c/client.key" \
    tls-stream://127.0.0.1:"$gt" 2>&1) &&
    grep -q "tcp: health check received" "$tmp/go-agent.log" &&
    ok "flowgate probe -> go tls agent" || bad "flowgate probe -> go tls agent: $out"
# shellcheck disable=SC2086
out=$("$fg" probe -t 15s -a "$c/ca.crt" -c "$c/client.crt" -k "$c/client.key" \
    dtls://127.0.0.1:"$gu" 2>&1) &&
    grep -q "udp: health check received" "$tmp/go-agent.log" &&
    ok "flowgate probe -> pion dtls agent" ||
    bad "flowgate probe -> pion dtls agent: $out"

echo "godoxy interop: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
