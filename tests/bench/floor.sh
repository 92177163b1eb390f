#!/usr/bin/env bash
#
# Copyright (c) 2026 The flowgate authors
#
# Permission to use, copy, modify, and distribute this software for any
# purpose with or without fee is hereby granted, provided that the above
# copyright notice and this permission notice appear in all copies.
#
# THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
# WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
# MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
# ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
# WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
# ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
# OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
#
# The floor of a one-flow UDP relay on this machine: the same generator
# and echo server as run.sh, one flow of 64-byte datagrams at several
# windows, through socat, through flowgate, and through fg-bench's
# relay-udp, a relay that does nothing but move datagrams (one thread, no
# flow table, no counters), once sleeping in epoll_wait like any event
# loop ("relay") and once never sleeping ("relay-spin", one core gone).
# The relay columns say what any user-space forwarder can reach in the
# one-flow cell of run.sh, so that flowgate's figure there can be read
# against what is possible rather than only against socat.
#
# usage: tests/bench/floor.sh [--duration S] [--rounds N] [--quick]
#
# Environment: FLOWGATE, FG_BENCH, FLOWGATE_ARGS, CC, as run.sh.
# Exit status: 0 when every run that was not skipped finished without
# errors, 1 otherwise, 2 on a usage error.

set -u

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/lib.sh
. "$SCRIPT_DIR/lib.sh" || exit 1

usage() {
	echo "usage: $0 [--duration S] [--rounds N] [--quick]" >&2
	exit 2
}

bench_args "$@"

bench_init floor
find_fg_bench
find_flowgate optional
HAVE_SOCAT=0
command -v socat >/dev/null 2>&1 && HAVE_SOCAT=1

echo_start udp
free_ports SOCAT_PORT FG_PORT RELAY_PORT

CONF=$TMP/flowgate.yml
cat >"$CONF" <<EOF2
workers: 2
log: {level: warn}
services:
  - name: bench-udp
    listen: udp://127.0.0.1:$FG_PORT
    forward: udp://127.0.0.1:$ECHO_UDP
EOF2

# proxy_extra COLUMN: the relay columns, for proxy_start in lib.sh.
proxy_extra() {
	TARGET=127.0.0.1:$RELAY_PORT
	start_bg "$1" "$FG_BENCH" relay-udp -l "$TARGET" \
	    -t "127.0.0.1:$ECHO_UDP" \
	    -m "$([ "$1" = relay ] && echo poll || echo spin)"
}

SCEN_NAMES=("udp 64B 1 flow w1" "udp 64B 1 flow w8" "udp 64B 1 flow w32")
SCEN_PROTO=(udp udp udp)
SCEN_ARGS=("-f 1 -s 64 -w 1" "-f 1 -s 64 -w 8" "-f 1 -s 64 -w 32")
COLS=(direct socat relay relay-spin flowgate)

# measure SCENARIO COLUMN, for rounds: proxy_measure in lib.sh.
measure() {
	proxy_measure "$@"
}

bench_start "flowgate relay floor"
echo "host: $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs"
echo "each run: $DURATION s, best of $ROUNDS round(s)"
echo
rounds

echo
printf '| %-18s | %8s | %8s | %8s | %10s | %8s | %14s | %11s | %10s |\n' \
    scenario direct socat relay relay-spin flowgate flowgate/socat \
    relay/socat spin/socat
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' -------------------- ---------: \
    ---------: ---------: -----------: ---------: ---------------: \
    ------------: -----------:
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	printf '| %-18s | %8s | %8s | %8s | %10s | %8s | %14s | %11s | %10s |\n' \
	    "${SCEN_NAMES[$s]}" "$(cell VAL "$s" direct)" \
	    "$(cell VAL "$s" socat)" "$(cell VAL "$s" relay)" \
	    "$(cell VAL "$s" relay-spin)" "$(cell VAL "$s" flowgate)" \
	    "$(ratio VAL "$s,flowgate" "$s,socat")" \
	    "$(ratio VAL "$s,relay" "$s,socat")" \
	    "$(ratio VAL "$s,relay-spin" "$s,socat")"
done
echo
echo "pps: datagrams echoed back per second; relay and relay-spin are"
echo "fg-bench relay-udp -m poll and -m spin (no flow table, one client)."
gen_lines
bench_finish
