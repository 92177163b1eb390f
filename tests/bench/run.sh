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
#
# Environment: FLOWGATE (the daemon; default src/flowgate next to the
# tree), FG_BENCH (the generator; built from fg-bench.c into a temporary
# directory when missing), FLOWGATE_ARGS (extra arguments after "run -c
# CONF"), CC (compiler for that fallback build).
#
# Exit status: 0 when every run that was not skipped finished without
# errors, 1 otherwise, 2 on a usage error.

set -u

DURATION=
FLOWS=64
ROUNDS=1
QUICK=0
CMDLINE="$0${*:+ $*}"

usage() {
	echo "usage: $0 [--duration S] [--flows N] [--rounds N] [--quick]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--duration)	[ $# -ge 2 ] || usage; DURATION=$2; shift 2 ;;
	--duration=*)	DURATION=${1#*=}; shift ;;
	--flows)	[ $# -ge 2 ] || usage; FLOWS=$2; shift 2 ;;
	--flows=*)	FLOWS=${1#*=}; shift ;;
	--rounds)	[ $# -ge 2 ] || usage; ROUNDS=$2; shift 2 ;;
	--rounds=*)	ROUNDS=${1#*=}; shift ;;
	--quick)	QUICK=1; shift ;;
	-h|--help)	usage ;;
	*)		usage ;;
	esac
done
# --quick only changes the default; an explicit --duration wins.
if [ -z "$DURATION" ]; then
	if [ "$QUICK" = 1 ]; then DURATION=2; else DURATION=6; fi
fi
case "$DURATION" in ''|*[!0-9]*) usage ;; esac
case "$FLOWS" in ''|*[!0-9]*) usage ;; esac
case "$ROUNDS" in ''|*[!0-9]*) usage ;; esac
if [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 600 ] ||
    [ "$FLOWS" -lt 1 ] || [ "$FLOWS" -gt 4096 ] ||
    [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 10 ]; then
	usage
fi

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fg-bench.XXXXXX") || exit 1
PGIDS=""
FAILED=0

# Each child runs in its own session (setsid), so one kill of its
# process group also takes socat's forked children with it.
stop_group() {
	local pid=$1 _

	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null ||
		    break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	PGIDS=$(echo " $PGIDS " | sed "s/ $pid / /g")
}

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
	local pid

	trap - EXIT INT TERM
	for pid in $PGIDS; do
		stop_group "$pid"
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_bg NAME CMD...: runs CMD in the background, logging to $TMP/NAME.log;
# the pid (also its process group) is left in BG_PID.
start_bg() {
	local name=$1

	shift
	if command -v setsid >/dev/null 2>&1; then
		setsid "$@" >"$TMP/$name.log" 2>&1 </dev/null &
	else
		"$@" >"$TMP/$name.log" 2>&1 </dev/null &
	fi
	BG_PID=$!
	PGIDS="$PGIDS $BG_PID"
}

# wait_file FILE: up to 5 s for a port file to appear.
wait_file() {
	local _

	for _ in $(seq 1 50); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# The tools. ------------------------------------------------------------

if [ -z "${FG_BENCH:-}" ]; then
	for f in "$SCRIPT_DIR/fg-bench" "$PWD/tests/bench/fg-bench"; do
		if [ -x "$f" ]; then
			FG_BENCH=$f
			break
		fi
	done
fi
if [ -z "${FG_BENCH:-}" ] || [ ! -x "$FG_BENCH" ]; then
	echo "fg-bench not found; building it from $SCRIPT_DIR/fg-bench.c" >&2
	if ! ${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -pthread \
	    -o "$TMP/fg-bench" "$SCRIPT_DIR/fg-bench.c" -lm; then
		echo "cannot build fg-bench; set FG_BENCH" >&2
		exit 1
	fi
	FG_BENCH=$TMP/fg-bench
fi

if [ -z "${FLOWGATE:-}" ]; then
	FLOWGATE=$SCRIPT_DIR/../../src/flowgate
	[ -x "$FLOWGATE" ] || [ ! -x "$PWD/src/flowgate" ] ||
	    FLOWGATE=$PWD/src/flowgate
fi
HAVE_FG=0
[ -x "$FLOWGATE" ] && [ ! -d "$FLOWGATE" ] && HAVE_FG=1
HAVE_SOCAT=0
command -v socat >/dev/null 2>&1 && HAVE_SOCAT=1

# The echo servers, for the whole run. ----------------------------------

start_bg echo-udp "$FG_BENCH" echo-udp -l 127.0.0.1:0 -p "$TMP/echo-udp.port"
start_bg echo-tcp "$FG_BENCH" echo-tcp -l 127.0.0.1:0 -p "$TMP/echo-tcp.port"
if ! wait_file "$TMP/echo-udp.port" || ! wait_file "$TMP/echo-tcp.port"; then
	echo "echo servers did not start:" >&2
	cat "$TMP"/echo-*.log >&2
	exit 1
fi
ECHO_UDP=$(cat "$TMP/echo-udp.port")
ECHO_TCP=$(cat "$TMP/echo-tcp.port")

# One port free for both UDP and TCP per proxy.
PORTS=$("$FG_BENCH" freeport -n 2) || exit 1
SOCAT_PORT=$(echo "$PORTS" | sed -n 1p)
FG_PORT=$(echo "$PORTS" | sed -n 2p)

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

# proxy_start COLUMN PROTO: starts the proxy for a column and probes the
# whole path through it; sets TARGET, or returns 1 with a reason in WHY.
PROXY_PID=""
proxy_start() {
	local col=$1 proto=$2

	PROXY_PID=""
	WHY=""
	case "$col" in
	direct)
		if [ "$proto" = udp ]; then
			TARGET=127.0.0.1:$ECHO_UDP
		else
			TARGET=127.0.0.1:$ECHO_TCP
		fi
		return 0
		;;
	socat)
		if [ "$HAVE_SOCAT" = 0 ]; then
			WHY=skipped
			return 1
		fi
		TARGET=127.0.0.1:$SOCAT_PORT
		if [ "$proto" = udp ]; then
			start_bg socat socat \
			    "UDP-LISTEN:$SOCAT_PORT,fork,reuseaddr" \
			    "UDP:127.0.0.1:$ECHO_UDP"
		else
			start_bg socat socat \
			    "TCP-LISTEN:$SOCAT_PORT,fork,reuseaddr" \
			    "TCP:127.0.0.1:$ECHO_TCP"
		fi
		;;
	flowgate)
		if [ "$HAVE_FG" = 0 ]; then
			WHY=skipped
			return 1
		fi
		TARGET=127.0.0.1:$FG_PORT
		# shellcheck disable=SC2086
		start_bg flowgate "$FLOWGATE" run -c "$CONF" ${FLOWGATE_ARGS:-}
		;;
	esac
	PROXY_PID=$BG_PID
	# Up to 5 s for an echo through it, giving up at once if it exits.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		if "$FG_BENCH" probe "$proto" -t "$TARGET" -o 500 \
		    >>"$TMP/probe.log" 2>&1; then
			return 0
		fi
		kill -0 "$PROXY_PID" 2>/dev/null || break
	done
	WHY=failed
	if kill -0 "$PROXY_PID" 2>/dev/null; then
		echo "$col: no $proto echo through $TARGET in 5 s; its log:" >&2
	else
		wait "$PROXY_PID"
		echo "$col: exited with status $? before echoing $proto" \
		    "through $TARGET; its log:" >&2
	fi
	tail -n 20 "$TMP/$col.log" | sed 's/^/  /' >&2
	proxy_stop
	return 1
}

proxy_stop() {
	[ -n "$PROXY_PID" ] && stop_group "$PROXY_PID"
	PROXY_PID=""
}

# Scenarios. ------------------------------------------------------------

SCEN_NAMES=("udp 64B 1 flow" "udp 64B $FLOWS flows" "udp 1200B $FLOWS flows"
    "tcp 1 conn" "tcp 8 conns")
SCEN_PROTO=(udp udp udp tcp tcp)
SCEN_ARGS=("-f 1 -s 64" "-f $FLOWS -s 64" "-f $FLOWS -s 1200" "-c 1" "-c 8")
COLS=(direct socat flowgate)

# Results, keyed "scenario,column": best value, and its generator line.
declare -A VAL LINE NOTE

# field LINE KEY: the value of key=value in a generator line.
field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# measure SCENARIO COLUMN: one run; keeps the better value of the rounds.
measure() {
	local s=$1 col=$2 proto=${SCEN_PROTO[$1]} out rc v key=$1,$2 errs

	if ! proxy_start "$col" "$proto"; then
		[ -z "${VAL[$key]:-}" ] && NOTE[$key]=$WHY
		[ "$WHY" = failed ] && FAILED=1
		return
	fi
	# shellcheck disable=SC2086
	out=$(timeout $((DURATION + 15)) "$FG_BENCH" "$proto" -t "$TARGET" \
	    -d "$DURATION" ${SCEN_ARGS[$s]} 2>>"$TMP/gen.log")
	rc=$?
	proxy_stop
	out=$(echo "$out" | grep "^$proto " | tail -n 1)
	echo "  ${SCEN_NAMES[$s]} / $col: ${out:-no result (exit $rc)}"
	if [ -z "$out" ]; then
		NOTE[$key]=failed
		FAILED=1
		return
	fi
	errs=$(field "$out" errors)
	if [ "$proto" = udp ]; then
		v=$(field "$out" pps)
	else
		v=$(field "$out" mbit_s)
	fi
	if [ "$rc" != 0 ] || [ "${errs:-1}" != 0 ]; then
		FAILED=1
		NOTE[$key]="errors"
	fi
	if [ -z "${VAL[$key]:-}" ] ||
	    awk -v a="$v" -v b="${VAL[$key]}" 'BEGIN { exit !(a > b) }'; then
		VAL[$key]=$v
		LINE[$key]=$out
	fi
}

START=$(date +%s)
echo "flowgate benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "command: FLOWGATE=$FLOWGATE FG_BENCH=$FG_BENCH $CMDLINE"
echo "host: $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs;" \
    "socat: $([ "$HAVE_SOCAT" = 1 ] && socat -V 2>/dev/null |
    sed -n 's/^socat version \([^ ]*\).*/\1/p' || echo missing)"
echo "each run: $DURATION s, best of $ROUNDS round(s); udp window 8" \
    "datagrams per flow; tcp 16 KiB writes, 1 MiB in flight per conn"
[ "$HAVE_FG" = 1 ] || echo "flowgate: skipped ($FLOWGATE not found)"
[ "$HAVE_SOCAT" = 1 ] || echo "socat: skipped (not installed)"
echo

for ((r = 1; r <= ROUNDS; r++)); do
	[ "$ROUNDS" -gt 1 ] && echo "round $r of $ROUNDS"
	for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
		for col in "${COLS[@]}"; do
			measure "$s" "$col"
		done
	done
done

# The table. ------------------------------------------------------------

# cell S COL: the value, or why there is none; "!" marks runs with errors.
cell() {
	local key=$1,$2

	if [ -n "${VAL[$key]:-}" ]; then
		printf '%s%s' "${VAL[$key]}" \
		    "$([ "${NOTE[$key]:-}" = errors ] && echo '!')"
	else
		printf '%s' "${NOTE[$key]:-n/a}"
	fi
}

ratio() {
	local a=${VAL[$1]:-} b=${VAL[$2]:-}

	if [ -n "$a" ] && [ -n "$b" ]; then
		awk -v a="$a" -v b="$b" \
		    'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
	else
		printf -- '-'
	fi
}

echo
printf '| %-22s | %-6s | %10s | %10s | %10s | %14s | %15s |\n' scenario \
    unit direct socat flowgate flowgate/socat flowgate/direct
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------ -------- \
    -----------: -----------: -----------: ---------------: \
    ----------------:
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	if [ "${SCEN_PROTO[$s]}" = udp ]; then unit=pps; else unit=Mbit/s; fi
	printf '| %-22s | %-6s | %10s | %10s | %10s | %14s | %15s |\n' \
	    "${SCEN_NAMES[$s]}" "$unit" "$(cell "$s" direct)" \
	    "$(cell "$s" socat)" "$(cell "$s" flowgate)" \
	    "$(ratio "$s,flowgate" "$s,socat")" \
	    "$(ratio "$s,flowgate" "$s,direct")"
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
			printf '  %s %s' "$col" "$(cell "$s" "$col")"
		fi
	done
	echo
done

echo
echo "generator lines (best round):"
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	for col in "${COLS[@]}"; do
		[ -n "${LINE[$s,$col]:-}" ] &&
		    echo "  ${SCEN_NAMES[$s]} / $col: ${LINE[$s,$col]}"
	done
done
echo
echo "flowgate config:"
sed 's/^/  /' "$CONF"
echo "total time: $(($(date +%s) - START)) s"
if [ "$FAILED" != 0 ]; then
	echo "some runs failed or reported errors (marked ! or failed)"
	[ -s "$TMP/gen.log" ] && sed 's/^/  /' "$TMP/gen.log"
	exit 1
fi
exit 0
