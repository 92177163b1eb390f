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
# Side-by-side benchmark: the same generator (fg-bench) against the echo
# servers directly, through socat, and through flowgate, all in one
# invocation on 127.0.0.1, so the ratios compare runs made on the same
# machine at the same time.  Every proxy is started fresh for each
# scenario, probed end to end, measured, and stopped.
#
# usage: tests/bench/run.sh [--duration S] [--flows N] [--rounds N] [--quick]
#     [--window N]
# --window: datagrams each UDP flow keeps in flight (default 8); the
# defaults measure a latency-bound closed loop, a deeper window the
# forwarding capacity.
#
# Environment: FLOWGATE (the daemon; default src/flowgate next to the
# tree), FG_BENCH (the generator; built from fg-bench.c into a temporary
# directory when missing), FLOWGATE_ARGS (extra arguments after "run -c
# CONF"), CC (compiler for that fallback build).
#
# Exit status: 0 when every run that was not skipped finished without
# errors, 1 otherwise, 2 on a usage error.

set -u

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/lib.sh
. "$SCRIPT_DIR/lib.sh" || exit 1

FLOWS=64
WINDOW=8

usage() {
	echo "usage: $0 [--duration S] [--flows N] [--rounds N] [--quick]" \
	    "[--window N]" >&2
	exit 2
}

bench_args "$@"
if [ "$FLOWS" -lt 1 ] || [ "$FLOWS" -gt 4096 ]; then
	usage
fi

bench_init bench

# The tools. ------------------------------------------------------------

find_fg_bench
find_flowgate optional
HAVE_SOCAT=0
command -v socat >/dev/null 2>&1 && HAVE_SOCAT=1

# The echo servers, for the whole run. ----------------------------------

echo_start udp
echo_start tcp

# One port free for both UDP and TCP per proxy.
free_ports SOCAT_PORT FG_PORT

CONF=$TMP/flowgate.yml
cat >"$CONF" <<EOF
workers: 2
log: {level: warn}
services:
  - name: bench-udp
    listen: udp://127.0.0.1:$FG_PORT
    forward: udp://127.0.0.1:$ECHO_UDP
  - name: bench-tcp
    listen: tcp://127.0.0.1:$FG_PORT
    forward: tcp://127.0.0.1:$ECHO_TCP
EOF

# Proxies, one scenario at a time. --------------------------------------

# proxy_start and proxy_stop are in lib.sh.

# Scenarios. ------------------------------------------------------------

SCEN_NAMES=("udp 64B 1 flow" "udp 64B $FLOWS flows" "udp 1200B $FLOWS flows"
    "tcp 1 conn" "tcp 8 conns")
SCEN_PROTO=(udp udp udp tcp tcp)
SCEN_ARGS=("-f 1 -s 64 -w $WINDOW" "-f $FLOWS -s 64 -w $WINDOW"
    "-f $FLOWS -s 1200 -w $WINDOW" "-c 1" "-c 8")
COLS=(direct socat flowgate)

# measure SCENARIO COLUMN, for rounds: proxy_measure in lib.sh.
measure() {
	proxy_measure "$@"
}

bench_start "flowgate benchmark"
echo "host: $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs;" \
    "socat: $([ "$HAVE_SOCAT" = 1 ] && socat -V 2>/dev/null |
    sed -n 's/^socat version \([^ ]*\).*/\1/p' || echo missing)"
echo "each run: $DURATION s, best of $ROUNDS round(s); udp window $WINDOW" \
    "datagrams per flow; tcp 16 KiB writes, 1 MiB in flight per conn"
[ "$HAVE_FG" = 1 ] || echo "flowgate: skipped ($FLOWGATE not found)"
[ "$HAVE_SOCAT" = 1 ] || echo "socat: skipped (not installed)"
echo

rounds

# The table. ------------------------------------------------------------

echo
printf '| %-22s | %-6s | %10s | %10s | %10s | %14s | %15s |\n' scenario \
    unit direct socat flowgate flowgate/socat flowgate/direct
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------ -------- \
    -----------: -----------: -----------: ---------------: \
    ----------------:
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	if [ "${SCEN_PROTO[$s]}" = udp ]; then unit=pps; else unit=Mbit/s; fi
	printf '| %-22s | %-6s | %10s | %10s | %10s | %14s | %15s |\n' \
	    "${SCEN_NAMES[$s]}" "$unit" "$(cell VAL "$s" direct)" \
	    "$(cell VAL "$s" socat)" "$(cell VAL "$s" flowgate)" \
	    "$(ratio VAL "$s,flowgate" "$s,socat")" \
	    "$(ratio VAL "$s,flowgate" "$s,direct")"
done

echo
echo "UDP round trip, p50 / p99 in microseconds, and loss:"
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	[ "${SCEN_PROTO[$s]}" = udp ] || continue
	printf '  %-22s' "${SCEN_NAMES[$s]}"
	for col in "${COLS[@]}"; do
		l=${LINE[$s,$col]:-}
		if [ -n "$l" ]; then
			printf '  %s %s/%s %s%%' "$col" "$(field "$l" rtt_p50_us)" \
			    "$(field "$l" rtt_p99_us)" "$(field "$l" loss_pct)"
		else
			printf '  %s %s' "$col" "$(cell VAL "$s" "$col")"
		fi
	done
	echo
done

gen_lines
echo
echo "flowgate config:"
sed 's/^/  /' "$CONF"
bench_finish
