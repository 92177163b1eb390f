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
# flowgate runs as two processes with "workers: 1" each (on 2 cores shared
# with the generator and the echo server, one worker per CPU was 15 %
# slower at 64 bytes with 16 flows, and no faster at 1200); its client
# makes one DTLS session per UDP source.  socat runs as
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
# In the one-flow scenarios a fourth column, "relays", sends the same
# traffic through two fg-bench relay-udp processes in series, laid out as
# the pairs are but with no DTLS at all: each does nothing but move
# datagrams (one thread, one client, no flow table), sleeping in
# epoll_wait between them.  No DTLS pair that sleeps in its event loop (as
# flowgate and socat do) can beat two such relays that do not encrypt, so
# that column is the ceiling of such pairs on this machine, and
# relays/socat the most they can reach against socat here.  (A pair that
# never sleeps takes the cores the generator and echo server need.)
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
#            [--flows N] [--window N] [--sessions N]
#
# --flows is the many-flow column (default 16; socat forks two processes
# per flow); --window the datagrams each flow keeps in flight (default 8);
# --sessions 0 skips the memory test (default 1000).
#
# Environment: FLOWGATE (the daemon; default src/flowgate next to the
# tree), FG_BENCH (the generator; built from fg-bench.c into a temporary
# directory when missing), SOCAT (default socat), CC (compiler for the
# fallback build).
#
# Exit status: 0 when every run that was not skipped finished without
# errors, 1 otherwise, 2 on a usage error.

set -u

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/lib.sh
. "$SCRIPT_DIR/lib.sh" || exit 1

FLOWS=16
WINDOW=8
SESSIONS=1000

usage() {
	echo "usage: $0 [--duration S] [--rounds N] [--quick] [--flows N]" \
	    "[--window N] [--sessions N]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	bench_arg "$@"
	[ "$NARG" -gt 0 ] && { shift "$NARG"; continue; }
	case "$1" in
	--sessions)	[ $# -ge 2 ] || usage; SESSIONS=$2; shift 2 ;;
	--sessions=*)	SESSIONS=${1#*=}; shift ;;
	*)		usage ;;
	esac
done
check_args
case "$SESSIONS" in ''|*[!0-9]*) usage ;; esac
if [ "$FLOWS" -lt 2 ] || [ "$FLOWS" -gt 256 ] ||
    [ "$SESSIONS" -gt 4000 ]; then
	usage
fi

bench_init dtls

# The tools. ------------------------------------------------------------

find_fg_bench
# The certificates come from it too, so nothing runs without it.
find_flowgate required
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

make_certs
# socat takes the certificate and its key from one PEM file.
cat "$CERTS/client.crt" "$CERTS/client.key" >"$CERTS/client.pem"
cat "$CERTS/server.crt" "$CERTS/server.key" >"$CERTS/server.pem"

echo_start udp
free_ports FG_C FG_S SO_C SO_S RL_C RL_S

# Configurations. -------------------------------------------------------

fg_confs dtls udp dtls "$ECHO_UDP" 1

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

# Proxies (pair_stop, pair_probe in lib.sh). ----------------------------

# pair_start COLUMN LEVEL: starts a client and server pair (none for
# direct) and probes the whole path through it; sets TARGET, or returns 1
# with a reason in WHY.  Each probe is a datagram from a fresh source
# port, so each one that gets through leaves one DTLS session behind.
pair_start() {
	local col=$1 level=$2 dbg

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
	relays)
		TARGET=127.0.0.1:$RL_C
		start_bg relays-server "$FG_BENCH" relay-udp \
		    -l "127.0.0.1:$RL_S" -t "127.0.0.1:$ECHO_UDP" -m poll
		SRV_PID=$BG_PID
		start_bg relays-client "$FG_BENCH" relay-udp -l "$TARGET" \
		    -t "127.0.0.1:$RL_S" -m poll
		CLI_PID=$BG_PID
		;;
	flowgate)
		TARGET=127.0.0.1:$FG_C
		fg_pair_start flowgate "$TMP/fg-server-$level.yml" \
		    "$TMP/fg-client-$level.yml"
		;;
	esac
	pair_probe "$col" udp "$TARGET"
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

# The server logs "dtls established cipher=...".
detect_suite "dtls established cipher="
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
SCEN_ARGS=("-f 1 -s 64 -w $WINDOW" "-f $FLOWS -s 64 -w $WINDOW"
    "-f 1 -s 1200 -w $WINDOW" "-f $FLOWS -s 1200 -w $WINDOW")
SCEN_FLOWS=(1 "$FLOWS" 1 "$FLOWS")
COLS=(direct socat relays flowgate)

# Results (VAL, CPU, LINE, CPULINE, NOTE in lib.sh): pps and CPU
# us/datagram.
# Memory, one entry per round.
MEM_SRV=()
MEM_CLI=()
MEM_SRV_DATA=()
MEM_CLI_DATA=()
MEM_LINES=()

# measure SCENARIO COLUMN: one run; keeps the best value of the rounds.
measure() {
	local s=$1 col=$2 out rc key=$1,$2 c0 c1 s0 s1 recv cpu cl np

	if [ "$col" = relays ] && [ "${SCEN_FLOWS[$s]}" != 1 ]; then
		NOTE[$key]=-		# relay-udp serves one client
		return
	fi
	if ! pair_start "$col" warn; then
		start_failed "$key"
		return
	fi
	if [ "$col" != direct ]; then
		c0=$(group_ticks "$CLI_PID")
		s0=$(group_ticks "$SRV_PID")
	fi
	steal_mark
	# shellcheck disable=SC2086
	out=$(timeout $((DURATION + 15)) "$FG_BENCH" udp -t "$TARGET" \
	    -d "$DURATION" ${SCEN_ARGS[$s]} 2>>"$TMP/gen.log")
	rc=$?
	if [ "$col" != direct ]; then
		c1=$(group_ticks "$CLI_PID")
		s1=$(group_ticks "$SRV_PID")
		np="$(group_count "$CLI_PID")+$(group_count "$SRV_PID")"
		if ! pair_alive; then
			echo "  $col: a proxy exited during the run" >&2
			rc=1
		fi
	fi
	pair_stop
	result_line "$key" "${SCEN_NAMES[$s]} / $col" udp "$out" "$rc" ||
	    return
	out=$RESULT
	keep_best "$key" "$(field "$out" pps)" "$out" "$rc"
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
	if ! pair_alive; then
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

bench_start "flowgate DTLS tunnel benchmark"
echo "host: $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs;" \
    "$(openssl version 2>/dev/null || echo 'openssl ?');" \
    "socat: $([ "$HAVE_SOCAT" = 1 ] && "$SOCAT" -V 2>/dev/null |
    sed -n 's/^socat version \([^ ]*\).*/\1/p' ||
    echo "skipped ($SOCAT_WHY)")"
echo "each run: $DURATION s, best of $ROUNDS round(s); udp window $WINDOW" \
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

# round_end: the memory test, once per round.
round_end() {
	[ "$SESSIONS" -gt 0 ] && measure_mem
}
rounds

# The table. ------------------------------------------------------------

row() {
	printf '| %-32s | %-10s | %9s | %9s | %9s | %9s | %14s | %15s |' \
	    "${@:1:8}"
	printf ' %12s |\n' "$9"
}

echo
row scenario unit direct socat relays flowgate flowgate/socat \
    flowgate/direct relays/socat
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ---------------------------------- \
    ------------ ----------: ----------: ----------: ----------: \
    ---------------: ----------------: -------------:
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	row "${SCEN_NAMES[$s]}" pps "$(cell VAL "$s" direct)" \
	    "$(cell VAL "$s" socat)" "$(cell VAL "$s" relays)" \
	    "$(cell VAL "$s" flowgate)" \
	    "$(ratio VAL "$s,flowgate" "$s,socat")" \
	    "$(ratio VAL "$s,flowgate" "$s,direct")" \
	    "$(ratio VAL "$s,relays" "$s,socat")"
	row "${SCEN_NAMES[$s]}, CPU of pair" "CPU us/dg" - \
	    "$(cell CPU "$s" socat)" "$(cell CPU "$s" relays)" \
	    "$(cell CPU "$s" flowgate)" \
	    "$(ratio CPU "$s,flowgate" "$s,socat")" - \
	    "$(ratio CPU "$s,relays" "$s,socat")"
done
echo
echo "pps: datagrams echoed back to the generator per second; CPU us/dg:"
echo "client plus server proxy CPU (user+system, all threads and, for"
echo "socat, all forked children) per echoed datagram, lower is better, so"
echo "flowgate/socat < 1 favours flowgate.  Each figure is the best of the"
echo "rounds on its own.  relays: two fg-bench relay-udp in series, no"
echo "DTLS at all (one flow only), the ceiling of any pair that sleeps in"
echo "its event loop on this machine; relays/socat is the most such a DTLS"
echo "pair could reach against socat here."

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

gen_lines
echo
echo "flowgate configs (log level warn for throughput, info for memory):"
sed 's/^/  /' "$TMP/fg-client-warn.yml" "$TMP/fg-server-warn.yml"
if [ "$HAVE_SOCAT" = 1 ]; then
	echo "socat command lines:"
	echo "  ${SOCAT_CLI[*]}"
	echo "  ${SOCAT_SRV[*]}"
fi
bench_finish
