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
# DTLS tunnel benchmark: a flowgate client/server pair against a socat
# DTLS pair and against direct loopback, in one invocation on 127.0.0.1,
# with the same generator (fg-bench), the same certificates (ECDSA P-256
# from "flowgate certs") and the same process layout:
#
#   fg-bench udp -> client proxy (udp -> DTLS) -> server proxy (DTLS -> udp)
#       -> fg-bench echo-udp
#
# flowgate runs as two processes with "workers: 1" each; its client makes
# one DTLS session per UDP source.  socat runs as
#   socat UDP-LISTEN:P3,fork,reuseaddr OPENSSL-DTLS-CLIENT:127.0.0.1:P4,...
#   socat OPENSSL-DTLS-SERVER:P4,fork,reuseaddr,... UDP:127.0.0.1:ECHO
# where each side forks one child per UDP source, so it too makes one DTLS
# session per generator flow, each in its own process.  Per scenario the
# proxies are started fresh, probed end to end, measured and stopped.
# Besides datagrams per second it reports the CPU time both proxies of a
# pair used per echoed datagram (from /proc/PID/stat, summed over each
# proxy's process group so that socat's children count), the steadier
# figure on a shared machine.
#
# Then, once per round, the memory an established DTLS session costs the
# flowgate server and client: a fresh pair at log level info, one probe,
# VmRSS and VmData from /proc/PID/status and the live flow count from the
# SIGUSR1 "stats" line; then fg-bench opens --sessions flows (one datagram
# in flight each) through the client and exits, leaving the sessions
# established until the idle timeout (5 min); once the server's count has
# settled the figures are read again.  KB per session = growth / sessions
# added.
#
# usage: tests/bench/dtls.sh [--duration S] [--rounds N] [--quick]
#            [--flows N] [--sessions N]
#
# --flows is the many-flow column (default 16; socat forks two processes
# per flow); --sessions 0 skips the memory test (default 1000).
#
# Environment: FLOWGATE (the daemon; default src/flowgate next to the
# tree), FG_BENCH (the generator; built from fg-bench.c into a temporary
# directory when missing), SOCAT (default socat), CC (compiler for the
# fallback build).
#
# Exit status: 0 when every run that was not skipped finished without
# errors, 1 otherwise, 2 on a usage error.

set -u

DURATION=
ROUNDS=1
QUICK=0
FLOWS=16
SESSIONS=1000
CMDLINE="$0${*:+ $*}"

usage() {
	echo "usage: $0 [--duration S] [--rounds N] [--quick] [--flows N]" \
	    "[--sessions N]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--duration)	[ $# -ge 2 ] || usage; DURATION=$2; shift 2 ;;
	--duration=*)	DURATION=${1#*=}; shift ;;
	--rounds)	[ $# -ge 2 ] || usage; ROUNDS=$2; shift 2 ;;
	--rounds=*)	ROUNDS=${1#*=}; shift ;;
	--flows)	[ $# -ge 2 ] || usage; FLOWS=$2; shift 2 ;;
	--flows=*)	FLOWS=${1#*=}; shift ;;
	--sessions)	[ $# -ge 2 ] || usage; SESSIONS=$2; shift 2 ;;
	--sessions=*)	SESSIONS=${1#*=}; shift ;;
	--quick)	QUICK=1; shift ;;
	-h|--help)	usage ;;
	*)		usage ;;
	esac
done
# --quick only changes the defaults; an explicit --duration wins.
if [ -z "$DURATION" ]; then
	if [ "$QUICK" = 1 ]; then DURATION=2; else DURATION=6; fi
fi
case "$DURATION" in ''|*[!0-9]*) usage ;; esac
case "$ROUNDS" in ''|*[!0-9]*) usage ;; esac
case "$FLOWS" in ''|*[!0-9]*) usage ;; esac
case "$SESSIONS" in ''|*[!0-9]*) usage ;; esac
if [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 600 ] ||
    [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 10 ] ||
    [ "$FLOWS" -lt 2 ] || [ "$FLOWS" -gt 256 ] ||
    [ "$SESSIONS" -gt 4000 ]; then
	usage
fi

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fg-dtls.XXXXXX") || exit 1
PGIDS=""
FAILED=0

# Each child runs in its own session (setsid), so one kill of its
# process group takes everything it started (socat's children) with it.
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
# the pid (also its process group) is left in BG_PID.  setsid execs in
# place here (a background child of a non-interactive shell is not a
# group leader), so BG_PID is the proxy itself, whose /proc/PID files we
# read and to which we send SIGUSR1.
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
if [ ! -x "$FLOWGATE" ] || [ -d "$FLOWGATE" ]; then
	# The certificates come from it too, so nothing runs without it.
	echo "flowgate not found at $FLOWGATE; set FLOWGATE" >&2
	exit 1
fi
SOCAT=${SOCAT:-socat}
HAVE_SOCAT=0
SOCAT_WHY="not installed"
if command -v "$SOCAT" >/dev/null 2>&1; then
	# Older socat, or one built without OpenSSL, has no DTLS addresses.
	if "$SOCAT" -h 2>/dev/null | grep -qi 'openssl-dtls-server'; then
		HAVE_SOCAT=1
	else
		SOCAT_WHY="no OPENSSL-DTLS-SERVER in socat -h"
	fi
fi
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# Certificates, echo server, ports. -------------------------------------

CERTS=$TMP/certs
if ! "$FLOWGATE" certs -d "$CERTS" >"$TMP/certs.log" 2>&1; then
	echo "flowgate certs failed:" >&2
	cat "$TMP/certs.log" >&2
	exit 1
fi
# socat takes the certificate and its key from one PEM file.
cat "$CERTS/client.crt" "$CERTS/client.key" >"$CERTS/client.pem"
cat "$CERTS/server.crt" "$CERTS/server.key" >"$CERTS/server.pem"

start_bg echo-udp "$FG_BENCH" echo-udp -l 127.0.0.1:0 -p "$TMP/echo-udp.port"
if ! wait_file "$TMP/echo-udp.port"; then
	echo "echo server did not start:" >&2
	cat "$TMP/echo-udp.log" >&2
	exit 1
fi
ECHO_UDP=$(cat "$TMP/echo-udp.port")

PORTS=$("$FG_BENCH" freeport -n 4) || exit 1
FG_C=$(echo "$PORTS" | sed -n 1p)
FG_S=$(echo "$PORTS" | sed -n 2p)
SO_C=$(echo "$PORTS" | sed -n 3p)
SO_S=$(echo "$PORTS" | sed -n 4p)

# Configurations. -------------------------------------------------------

# fg_conf ROLE LEVEL: writes $TMP/fg-ROLE-LEVEL.yml.
fg_conf() {
	local role=$1 level=$2 f=$TMP/fg-$1-$2.yml

	if [ "$role" = client ]; then
		cat >"$f" <<EOF
workers: 1
log: {level: $level}
services:
  - name: bench-dtls-client
    listen: udp://127.0.0.1:$FG_C
    forward: dtls://127.0.0.1:$FG_S
    destination: 127.0.0.1:$ECHO_UDP
    tls: {cert: $CERTS/client.crt, key: $CERTS/client.key, ca: $CERTS/ca.crt}
EOF
	else
		cat >"$f" <<EOF
workers: 1
log: {level: $level}
services:
  - name: bench-dtls-server
    listen: dtls://127.0.0.1:$FG_S
    allow: [127.0.0.1/32]
    tls: {cert: $CERTS/server.crt, key: $CERTS/server.key, ca: $CERTS/ca.crt}
EOF
	fi
}
for l in debug info warn; do
	fg_conf client $l
	fg_conf server $l
done

# socat 1.7.4: "cert" is the PEM with certificate and key, "cafile" the
# trust anchor, "verify=1" (the default) asks for and checks the peer's
# certificate (mTLS on the server side), "commonname" the name the client
# checks the server certificate against, "ciphers" the OpenSSL cipher
# list.  flowgate pins DTLS to ECDHE-ECDSA-AES128-GCM-SHA256 (GoDoxy's
# only suite) while socat's default would give AES256-GCM-SHA384, so the
# script reads which suite the flowgate pair negotiates and pins socat to
# it (socat_cmds), then checks what socat negotiated.
SOCAT_CLI=()
SOCAT_SRV=()
socat_cmds() {
	local c=${1:+,ciphers=$1}

	SOCAT_CLI=("$SOCAT" "UDP-LISTEN:$SO_C,bind=127.0.0.1,fork,reuseaddr"
	    "OPENSSL-DTLS-CLIENT:127.0.0.1:$SO_S,cert=$CERTS/client.pem,cafile=$CERTS/ca.crt,commonname=godoxy.agent$c")
	SOCAT_SRV=("$SOCAT"
	    "OPENSSL-DTLS-SERVER:$SO_S,bind=127.0.0.1,fork,reuseaddr,cert=$CERTS/server.pem,cafile=$CERTS/ca.crt,verify=1$c"
	    "UDP:127.0.0.1:$ECHO_UDP")
}

# Proxies. --------------------------------------------------------------

CLI_PID=""
SRV_PID=""

pair_stop() {
	[ -n "$CLI_PID" ] && stop_group "$CLI_PID"
	[ -n "$SRV_PID" ] && stop_group "$SRV_PID"
	CLI_PID=""
	SRV_PID=""
}

# pair_start COLUMN LEVEL: starts a client and server pair (none for
# direct) and probes the whole path through it; sets TARGET, or returns 1
# with a reason in WHY.  Each probe is a datagram from a fresh source
# port, so each one that gets through leaves one DTLS session behind.
pair_start() {
	local col=$1 level=$2 dbg _

	WHY=""
	case "$col" in
	direct)
		TARGET=127.0.0.1:$ECHO_UDP
		return 0
		;;
	socat)
		if [ "$HAVE_SOCAT" = 0 ]; then
			WHY=skipped
			return 1
		fi
		TARGET=127.0.0.1:$SO_C
		# At debug, socat's -d -d logs the suite of each session.
		dbg=()
		[ "$level" = debug ] && dbg=(-d -d)
		start_bg socat-server "${SOCAT_SRV[0]}" "${dbg[@]}" \
		    "${SOCAT_SRV[@]:1}"
		SRV_PID=$BG_PID
		start_bg socat-client "${SOCAT_CLI[0]}" "${dbg[@]}" \
		    "${SOCAT_CLI[@]:1}"
		CLI_PID=$BG_PID
		;;
	flowgate)
		TARGET=127.0.0.1:$FG_C
		start_bg flowgate-server "$FLOWGATE" run \
		    -c "$TMP/fg-server-$level.yml"
		SRV_PID=$BG_PID
		start_bg flowgate-client "$FLOWGATE" run \
		    -c "$TMP/fg-client-$level.yml"
		CLI_PID=$BG_PID
		;;
	esac
	# Up to 5 s for an echo through the pair, giving up if one exits.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		if "$FG_BENCH" probe udp -t "$TARGET" -o 500 \
		    >>"$TMP/probe.log" 2>&1; then
			return 0
		fi
		if ! kill -0 "$CLI_PID" 2>/dev/null ||
		    ! kill -0 "$SRV_PID" 2>/dev/null; then
			break
		fi
	done
	WHY=failed
	echo "$col: no udp echo through $TARGET in 5 s; logs:" >&2
	tail -n 20 "$TMP/$col-client.log" "$TMP/$col-server.log" |
	    sed 's/^/  /' >&2
	pair_stop
	return 1
}

# group_ticks PGID: CPU ticks (user + system, with those of reaped
# children) of every process in a process group: flowgate is one process
# with its threads, socat a parent and a child per flow.
group_ticks() {
	local pg=$1 f s t=0

	for f in /proc/[0-9]*/stat; do
		s=$(cat "$f" 2>/dev/null) || continue
		s=${s##*) }
		# shellcheck disable=SC2086
		set -- $s
		[ "$3" = "$pg" ] && t=$((t + ${12} + ${13} + ${14} + ${15}))
	done
	echo "$t"
}

# group_count PGID: processes in a process group.
group_count() {
	local pg=$1 f s n=0

	for f in /proc/[0-9]*/stat; do
		s=$(cat "$f" 2>/dev/null) || continue
		s=${s##*) }
		# shellcheck disable=SC2086
		set -- $s
		[ "$3" = "$pg" ] && n=$((n + 1))
	done
	echo "$n"
}

# status_kb PID FIELD: a "FIELD: N kB" line of /proc/PID/status.
status_kb() {
	sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status" \
	    2>/dev/null
}

# live_flows PID LOG SERVICE: the live flow count of SERVICE from the
# "stats" line the daemon logs (at info) on SIGUSR1; empty if none comes
# within 2 s.
live_flows() {
	local pid=$1 log=$2 svc=$3 n0 l _

	n0=$(grep -c "stats service=$svc " "$log")
	kill -USR1 "$pid" 2>/dev/null || return
	for _ in $(seq 1 20); do
		l=$(grep "stats service=$svc " "$log" | sed -n "$((n0 + 1))p")
		if [ -n "$l" ]; then
			echo "$l" | sed -n 's/.* flows=\([0-9]*\) .*/\1/p'
			return
		fi
		sleep 0.1
	done
}

# Which suite does each pair negotiate? ---------------------------------

# Start the flowgate pair with debug logs, push one echo through it and
# read "dtls established cipher=..." from the server.
SUITE=""
if pair_start flowgate debug; then
	sleep 0.2
	SUITE=$(sed -n 's/.*dtls established cipher=\([^ ]*\).*/\1/p' \
	    "$TMP/flowgate-server.log" | head -n 1)
	cp "$TMP/flowgate-server.log" "$TMP/detect-flowgate-server.log"
fi
pair_stop
if [ -z "$SUITE" ]; then
	echo "cannot tell which suite flowgate negotiates; server log:" >&2
	sed 's/^/  /' "$TMP/detect-flowgate-server.log" >&2 2>/dev/null
	exit 1
fi
socat_cmds "$SUITE"

# The same for socat, which logs "SSL connection using SUITE" at -d -d.
SO_SUITE=""
if [ "$HAVE_SOCAT" = 1 ]; then
	if pair_start socat debug; then
		sleep 0.2
		SO_SUITE=$(sed -n 's/.*SSL connection using \([^ ]*\).*/\1/p' \
		    "$TMP/socat-server.log" | head -n 1)
		SO_PROTO=$(sed -n 's/.*SSL proto version used: \([^ ]*\).*/\1/p' \
		    "$TMP/socat-server.log" | head -n 1)
	fi
	pair_stop
	if [ "$SO_SUITE" != "$SUITE" ]; then
		echo "socat negotiated '${SO_SUITE:-nothing}', not $SUITE" >&2
		exit 1
	fi
fi

# Scenarios. ------------------------------------------------------------

SCEN_NAMES=("udp 64B 1 flow" "udp 64B $FLOWS flows" "udp 1200B 1 flow"
    "udp 1200B $FLOWS flows")
SCEN_ARGS=("-f 1 -s 64" "-f $FLOWS -s 64" "-f 1 -s 1200"
    "-f $FLOWS -s 1200")
COLS=(direct socat flowgate)

# Results, keyed "scenario,column": best pps, best CPU us/datagram, lines.
declare -A VAL CPU LINE CPULINE NOTE
# Memory, one entry per round.
MEM_SRV=()
MEM_CLI=()
MEM_SRV_DATA=()
MEM_CLI_DATA=()
MEM_LINES=()

field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

better() {
	awk -v a="$1" -v b="$2" -v dir="$3" \
	    'BEGIN { exit !(dir == "max" ? a > b : a < b) }'
}

# measure SCENARIO COLUMN: one run; keeps the best value of the rounds.
measure() {
	local s=$1 col=$2 out rc v key=$1,$2 errs c0 c1 s0 s1 recv cpu cl np

	if ! pair_start "$col" warn; then
		[ -z "${VAL[$key]:-}" ] && NOTE[$key]=$WHY
		[ "$WHY" = failed ] && FAILED=1
		return
	fi
	if [ "$col" != direct ]; then
		c0=$(group_ticks "$CLI_PID")
		s0=$(group_ticks "$SRV_PID")
	fi
	# shellcheck disable=SC2086
	out=$(timeout $((DURATION + 15)) "$FG_BENCH" udp -t "$TARGET" \
	    -d "$DURATION" ${SCEN_ARGS[$s]} 2>>"$TMP/gen.log")
	rc=$?
	if [ "$col" != direct ]; then
		c1=$(group_ticks "$CLI_PID")
		s1=$(group_ticks "$SRV_PID")
		np="$(group_count "$CLI_PID")+$(group_count "$SRV_PID")"
		if ! kill -0 "$CLI_PID" 2>/dev/null ||
		    ! kill -0 "$SRV_PID" 2>/dev/null; then
			echo "  $col: a proxy exited during the run" >&2
			rc=1
		fi
	fi
	pair_stop
	out=$(echo "$out" | grep "^udp " | tail -n 1)
	echo "  ${SCEN_NAMES[$s]} / $col: ${out:-no result (exit $rc)}"
	if [ -z "$out" ]; then
		NOTE[$key]=failed
		FAILED=1
		return
	fi
	errs=$(field "$out" errors)
	v=$(field "$out" pps)
	if [ "$rc" != 0 ] || [ "${errs:-1}" != 0 ]; then
		FAILED=1
		NOTE[$key]=errors
	fi
	if [ -z "${VAL[$key]:-}" ] || better "$v" "${VAL[$key]}" max; then
		VAL[$key]=$v
		LINE[$key]=$out
	fi
	[ "$col" = direct ] && return
	# CPU microseconds of both proxies per echoed datagram; each echo
	# crossed each proxy twice, once each way.
	recv=$(field "$out" recv)
	cpu=$(awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v t="$CLK_TCK" \
	    -v n="$recv" 'BEGIN { if (n > 0) printf "%.2f",
	    (c + s) / t * 1e6 / n; }')
	cl=$(awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v t="$CLK_TCK" \
	    -v n="$recv" -v np="$np" 'BEGIN { printf "client %.2f s," \
	    " server %.2f s for %d echoes; processes %s", c / t, s / t, n,
	    np }')
	echo "    cpu: $cl -> $cpu us/datagram"
	if [ -n "$cpu" ] && { [ -z "${CPU[$key]:-}" ] ||
	    better "$cpu" "${CPU[$key]}" min; }; then
		CPU[$key]=$cpu
		CPULINE[$key]=$cl
	fi
}

# settle PID LOG SERVICE: polls the live flow count every 0.5 s until it
# is unchanged for 2 s (up to 30 s); the last count is left in FLOWS_NOW.
settle() {
	local pid=$1 log=$2 svc=$3 prev="" same=0 n _

	FLOWS_NOW=""
	for _ in $(seq 1 60); do
		n=$(live_flows "$pid" "$log" "$svc")
		if [ -n "$n" ] && [ "$n" = "$prev" ]; then
			same=$((same + 1))
			[ "$same" -ge 4 ] && break
		else
			same=0
		fi
		prev=$n
		FLOWS_NOW=$n
		sleep 0.5
	done
}

# measure_mem: memory per established session on both flowgate sides.
measure_mem() {
	local out rc sr0 sr1 sd0 sd1 cr0 cr1 cd0 cd1 sf0 sf1 cf0 cf1 ds dc \
	    srv cli srvd clid

	if ! pair_start flowgate info; then
		FAILED=1
		MEM_LINES+=("pair did not start")
		return
	fi
	sleep 0.3
	sf0=$(live_flows "$SRV_PID" "$TMP/flowgate-server.log" \
	    bench-dtls-server)
	cf0=$(live_flows "$CLI_PID" "$TMP/flowgate-client.log" \
	    bench-dtls-client)
	sr0=$(status_kb "$SRV_PID" VmRSS)
	sd0=$(status_kb "$SRV_PID" VmData)
	cr0=$(status_kb "$CLI_PID" VmRSS)
	cd0=$(status_kb "$CLI_PID" VmData)
	# One datagram in flight per flow, 2 s before one counts as lost:
	# just enough to open the sessions and keep them busy.
	out=$(timeout 25 "$FG_BENCH" udp -t "$TARGET" -f "$SESSIONS" -s 64 \
	    -w 1 -o 2000 -d 4 2>>"$TMP/gen.log")
	rc=$?
	out=$(echo "$out" | grep "^udp " | tail -n 1)
	settle "$SRV_PID" "$TMP/flowgate-server.log" bench-dtls-server
	sf1=$FLOWS_NOW
	cf1=$(live_flows "$CLI_PID" "$TMP/flowgate-client.log" \
	    bench-dtls-client)
	sr1=$(status_kb "$SRV_PID" VmRSS)
	sd1=$(status_kb "$SRV_PID" VmData)
	cr1=$(status_kb "$CLI_PID" VmRSS)
	cd1=$(status_kb "$CLI_PID" VmData)
	if ! kill -0 "$CLI_PID" 2>/dev/null ||
	    ! kill -0 "$SRV_PID" 2>/dev/null; then
		echo "  memory: a proxy exited" >&2
		rc=1
	fi
	pair_stop
	echo "  memory: ${out:-generator: no result (exit $rc)}"
	echo "    server: flows ${sf0:-?} -> ${sf1:-?}, VmRSS ${sr0:-?} ->" \
	    "${sr1:-?} kB, VmData ${sd0:-?} -> ${sd1:-?} kB"
	echo "    client: flows ${cf0:-?} -> ${cf1:-?}, VmRSS ${cr0:-?} ->" \
	    "${cr1:-?} kB, VmData ${cd0:-?} -> ${cd1:-?} kB"
	if [ -z "$sf0" ] || [ -z "$sf1" ] || [ -z "$cf0" ] ||
	    [ -z "$cf1" ] || [ -z "$sr1" ] || [ -z "$cr1" ] ||
	    [ -z "$out" ]; then
		FAILED=1
		MEM_LINES+=("incomplete: server flows ${sf0:-?} -> ${sf1:-?}," \
		    "client flows ${cf0:-?} -> ${cf1:-?}")
		return
	fi
	ds=$((sf1 - sf0))
	dc=$((cf1 - cf0))
	if [ "$ds" -le 0 ] || [ "$dc" -le 0 ]; then
		FAILED=1
		MEM_LINES+=("no sessions added (server $ds, client $dc)")
		return
	fi
	if [ "$ds" != "$SESSIONS" ] || [ "$dc" != "$SESSIONS" ]; then
		echo "    only $ds (server) and $dc (client) of $SESSIONS" \
		    "sessions were established" >&2
	fi
	srv=$(awk -v a="$sr0" -v b="$sr1" -v n="$ds" \
	    'BEGIN { printf "%.1f", (b - a) / n }')
	srvd=$(awk -v a="$sd0" -v b="$sd1" -v n="$ds" \
	    'BEGIN { printf "%.1f", (b - a) / n }')
	cli=$(awk -v a="$cr0" -v b="$cr1" -v n="$dc" \
	    'BEGIN { printf "%.1f", (b - a) / n }')
	clid=$(awk -v a="$cd0" -v b="$cd1" -v n="$dc" \
	    'BEGIN { printf "%.1f", (b - a) / n }')
	echo "    -> server $srv KB RSS ($srvd KB VmData) per session;" \
	    "client $cli KB RSS ($clid KB VmData) per session"
	MEM_SRV+=("$srv")
	MEM_CLI+=("$cli")
	MEM_SRV_DATA+=("$srvd")
	MEM_CLI_DATA+=("$clid")
	MEM_LINES+=("server: $ds sessions, VmRSS $sr0 -> $sr1 kB, VmData $sd0 -> $sd1 kB; client: $dc sessions, VmRSS $cr0 -> $cr1 kB, VmData $cd0 -> $cd1 kB; generator: $out")
}

START=$(date +%s)
echo "flowgate DTLS tunnel benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "command: FLOWGATE=$FLOWGATE FG_BENCH=$FG_BENCH $CMDLINE"
echo "host: $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs;" \
    "$(openssl version 2>/dev/null || echo 'openssl ?');" \
    "socat: $([ "$HAVE_SOCAT" = 1 ] && "$SOCAT" -V 2>/dev/null |
    sed -n 's/^socat version \([^ ]*\).*/\1/p' ||
    echo "skipped ($SOCAT_WHY)")"
echo "each run: $DURATION s, best of $ROUNDS round(s); udp window 8" \
    "datagrams per flow, each echo checked for content and flow"
echo "certificates: flowgate certs (ECDSA P-256); mTLS on both servers;" \
    "one DTLS 1.2 session per generator flow in both pairs"
echo "suite: flowgate negotiates $SUITE (pinned in flowgate);" \
    "$([ "$HAVE_SOCAT" = 1 ] && echo "socat pinned to it with" \
    "ciphers=, negotiated ${SO_PROTO:-?} $SO_SUITE" ||
    echo "socat skipped")"
[ "$SESSIONS" -gt 0 ] && echo "memory: $SESSIONS sessions through a" \
    "fresh flowgate pair, once per round"
echo

for ((r = 1; r <= ROUNDS; r++)); do
	[ "$ROUNDS" -gt 1 ] && echo "round $r of $ROUNDS"
	for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
		for col in "${COLS[@]}"; do
			measure "$s" "$col"
		done
	done
	[ "$SESSIONS" -gt 0 ] && measure_mem
done

# The table. ------------------------------------------------------------

# cell ARRAY S COL: the value, or why there is none; "!" marks errors.
cell() {
	local -n arr=$1
	local key=$2,$3

	if [ -n "${arr[$key]:-}" ]; then
		printf '%s%s' "${arr[$key]}" \
		    "$([ "${NOTE[$key]:-}" = errors ] && echo '!')"
	elif [ "$1" = CPU ] && [ "$3" = direct ]; then
		printf -- '-'
	else
		printf '%s' "${NOTE[$key]:-n/a}"
	fi
}

ratio() {
	local -n arr=$1
	local a=${arr[$2]:-} b=${arr[$3]:-}

	if [ -n "$a" ] && [ -n "$b" ]; then
		awk -v a="$a" -v b="$b" \
		    'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
	else
		printf -- '-'
	fi
}

row() {
	printf '| %-32s | %-10s | %9s | %9s | %9s | %14s | %15s |\n' "$@"
}

echo
row scenario unit direct socat flowgate flowgate/socat flowgate/direct
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ---------------------------------- \
    ------------ ----------: ----------: ----------: \
    ---------------: ----------------:
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	row "${SCEN_NAMES[$s]}" pps "$(cell VAL "$s" direct)" \
	    "$(cell VAL "$s" socat)" "$(cell VAL "$s" flowgate)" \
	    "$(ratio VAL "$s,flowgate" "$s,socat")" \
	    "$(ratio VAL "$s,flowgate" "$s,direct")"
	row "${SCEN_NAMES[$s]}, CPU of pair" "CPU us/dg" - \
	    "$(cell CPU "$s" socat)" "$(cell CPU "$s" flowgate)" \
	    "$(ratio CPU "$s,flowgate" "$s,socat")" -
done
echo
echo "pps: datagrams echoed back to the generator per second; CPU us/dg:"
echo "client plus server proxy CPU (user+system, all threads and, for"
echo "socat, all forked children) per echoed datagram, lower is better, so"
echo "flowgate/socat < 1 favours flowgate.  Each figure is the best of the"
echo "rounds on its own."

echo
echo "UDP round trip, p50 / p99 in microseconds, loss, and flows warmed up"
echo "(sessions established before the clock started):"
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	printf '  %-22s' "${SCEN_NAMES[$s]}"
	for col in "${COLS[@]}"; do
		l=${LINE[$s,$col]:-}
		if [ -n "$l" ]; then
			printf '  %s %s/%s %s%% warm %s' "$col" \
			    "$(field "$l" rtt_p50_us)" \
			    "$(field "$l" rtt_p99_us)" \
			    "$(field "$l" loss_pct)" "$(field "$l" warm)"
		else
			printf '  %s %s' "$col" "$(cell VAL "$s" "$col")"
		fi
	done
	echo
done

if [ "$SESSIONS" -gt 0 ]; then
	# median LIST...: the middle value (the lower of the two middles).
	median() {
		printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"
	}
	echo
	echo "memory per established DTLS session, flowgate, $SESSIONS" \
	    "sessions, KB (median of ${#MEM_SRV[@]} round(s); each round:" \
	    "VmRSS growth / sessions added):"
	if [ "${#MEM_SRV[@]}" -gt 0 ]; then
		printf '| %-8s | %13s | %15s | %-26s |\n' side "RSS KB/sess" \
		    "VmData KB/sess" "rounds (RSS)"
		printf '|%s|%s|%s|%s|\n' ---------- --------------: \
		    ----------------: ----------------------------
		printf '| %-8s | %13s | %15s | %-26s |\n' server \
		    "$(median "${MEM_SRV[@]}")" \
		    "$(median "${MEM_SRV_DATA[@]}")" "${MEM_SRV[*]}"
		printf '| %-8s | %13s | %15s | %-26s |\n' client \
		    "$(median "${MEM_CLI[@]}")" \
		    "$(median "${MEM_CLI_DATA[@]}")" "${MEM_CLI[*]}"
	fi
	for l in "${MEM_LINES[@]}"; do
		echo "  $l"
	done
fi

echo
echo "generator lines (best round):"
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	for col in "${COLS[@]}"; do
		[ -n "${LINE[$s,$col]:-}" ] &&
		    echo "  ${SCEN_NAMES[$s]} / $col: ${LINE[$s,$col]}"
		[ -n "${CPULINE[$s,$col]:-}" ] &&
		    echo "  ${SCEN_NAMES[$s]} / $col cpu (best):" \
		    "${CPULINE[$s,$col]}"
	done
done
echo
echo "flowgate configs (log level warn for throughput, info for memory):"
sed 's/^/  /' "$TMP/fg-client-warn.yml" "$TMP/fg-server-warn.yml"
if [ "$HAVE_SOCAT" = 1 ]; then
	echo "socat command lines:"
	echo "  ${SOCAT_CLI[*]}"
	echo "  ${SOCAT_SRV[*]}"
fi
echo "total time: $(($(date +%s) - START)) s"
if [ "$FAILED" != 0 ]; then
	echo "some runs failed or reported errors (marked ! or failed)"
	[ -s "$TMP/gen.log" ] && sed 's/^/  /' "$TMP/gen.log"
	exit 1
fi
exit 0
