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
# TLS tunnel benchmark: a flowgate client/server pair against a stunnel
# pair, in one invocation on 127.0.0.1, with the same generator
# (fg-bench), the same certificates (ECDSA P-256 from "flowgate certs"),
# the same TLS version and cipher suite, and the same process layout:
#
#   fg-bench tcp -> client proxy (tcp -> TLS) -> server proxy (TLS -> tcp)
#       -> fg-bench echo-tcp
#
# Each side is its own process, both with their default threads: flowgate
# with "workers: 0", one worker per CPU, stunnel with its thread per
# connection.  (Until 7 Dec flowgate ran with "workers: 1", one thread
# against stunnel's eight in the eight-connection scenario.)  Per
# scenario the proxies are started fresh, probed end to end, measured and
# stopped.  Besides throughput it
# reports the CPU seconds both proxies of a pair used per GiB echoed
# (from /proc/PID/stat), the steadier figure on a shared machine, and
# mTLS handshakes per second against each server side alone, measured
# with "openssl s_time -new" and cross-checked against the handshakes
# the server logged.
#
# flowgate has no cipher option: it negotiates OpenSSL's default order
# with the server's preference.  The script asks the flowgate pair which
# suite it negotiated and pins stunnel to that.  --suite NAME pins both
# instead (flowgate through an OPENSSL_CONF system_default section).
#
# --floor adds a column "plain": a flowgate pair in the same layout that
# forwards plain TCP (no TLS), and for each round an estimate of the most
# a TLS pair doing flowgate's I/O could reach against stunnel in that
# round (the "ceiling").  Such a pair moves the same bytes through the
# same sockets as the plain pair, so it spends at least the plain pair's
# CPU per GiB echoed, plus the cipher's four passes per byte (encrypt and
# decrypt, each way) at the speed "openssl speed" measures on an idle CPU,
# plus what the generator and echo server spend with the plain pair.
# With every CPU busy on that alone it would move
#
#   ceiling = CPUs / (plain pair + cipher + gen/echo), in GiB/s,
#
# which is then divided by what stunnel moved in the same round.  It
# leaves out OpenSSL's own copies and records and counts the cipher at its
# best speed.  It is no bound for a relay that does its I/O otherwise
# (larger batches, or kernel TLS and splice), and the columns of a round
# run one after another, so a round's figures carry the machine's noise.
# The generator and echo server spend more with stunnel than with either
# flowgate pair: stunnel's 16 KiB writes reach them in smaller pieces.
#
# usage: tests/bench/tls.sh [--duration S] [--rounds N] [--quick]
#            [--suite TLS13_SUITE] [--floor]
#
# Environment: FLOWGATE (the daemon; default src/flowgate next to the
# tree), FG_BENCH (the generator; built from fg-bench.c into a temporary
# directory when missing), STUNNEL (default stunnel4, else stunnel),
# OPENSSL (default openssl), CC (compiler for the fallback build).
#
# Exit status: 0 when every run that was not skipped finished without
# errors, 1 otherwise, 2 on a usage error.

set -u

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/lib.sh
. "$SCRIPT_DIR/lib.sh" || exit 1

HSTIME=
SUITE_REQ=
FLOOR=0
ROUND=1

usage() {
	echo "usage: $0 [--duration S] [--rounds N] [--quick]" \
	    "[--suite TLS13_SUITE] [--floor]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	bench_arg "$@"
	[ "$NARG" -gt 0 ] && { shift "$NARG"; continue; }
	case "$1" in
	--suite)	[ $# -ge 2 ] || usage; SUITE_REQ=$2; shift 2 ;;
	--suite=*)	SUITE_REQ=${1#*=}; shift ;;
	--floor)	FLOOR=1; shift ;;
	*)		usage ;;
	esac
done
check_args
# s_time runs whole seconds; 5 s as asked, 2 s when quick.
if [ "$QUICK" = 1 ]; then HSTIME=2; else HSTIME=5; fi
case "$SUITE_REQ" in *[!A-Za-z0-9_]*) usage ;; esac

bench_init tls

# The tools. ------------------------------------------------------------

find_fg_bench
# The certificates come from it too, so nothing runs without it.
find_flowgate required
if [ -z "${STUNNEL:-}" ]; then
	STUNNEL=$(command -v stunnel4 || command -v stunnel || true)
fi
HAVE_ST=0
[ -n "$STUNNEL" ] && [ -x "$STUNNEL" ] && HAVE_ST=1
OPENSSL=${OPENSSL:-openssl}
HAVE_OSSL=0
command -v "$OPENSSL" >/dev/null 2>&1 && HAVE_OSSL=1
if [ "$FLOOR" = 1 ] && [ "$HAVE_OSSL" = 0 ]; then
	echo "--floor: no $OPENSSL to measure the cipher; no ceiling" >&2
	FLOOR=0
fi
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
NCPU=$(nproc 2>/dev/null || echo 1)

# Certificates, echo server, ports. -------------------------------------

make_certs
echo_start tcp
ECHO_PID=$BG_PID
free_ports FG_C FG_S ST_C ST_S PL_C PL_S

# Configurations. -------------------------------------------------------

fg_confs tls tcp tls-stream "$ECHO_TCP" 0

# plain_conf SIDE LISTEN FORWARD: one side of the plain pair of --floor,
# $TMP/fg-plain-SIDE.yml: the same layout and workers, no TLS.
plain_conf() {
	cat >"$TMP/fg-plain-$1.yml" <<EOF
workers: 0
log: {level: warn}
services:
  - name: bench-plain-$1
    listen: tcp://127.0.0.1:$2
    forward: tcp://127.0.0.1:$3
EOF
}
plain_conf client "$PL_C" "$PL_S"
plain_conf server "$PL_S" "$ECHO_TCP"

# With --suite, flowgate is pinned through OpenSSL's own configuration,
# which SSL_CTX_new applies to every context (it has no option of its
# own).  Without it flowgate runs as shipped.
FG_ENV=()
if [ -n "$SUITE_REQ" ]; then
	cat >"$TMP/openssl-fg.cnf" <<EOF
openssl_conf = fg_init
[fg_init]
ssl_conf = fg_ssl
[fg_ssl]
system_default = fg_sys
[fg_sys]
MinProtocol = TLSv1.3
Ciphersuites = $SUITE_REQ
EOF
	FG_ENV=(env "OPENSSL_CONF=$TMP/openssl-fg.cnf")
fi

# st_conf ROLE LEVEL SUITE: writes $TMP/st-ROLE-LEVEL.conf (stunnel
# "debug" levels are syslog's: 4 warning, 5 notice, 6 info).
st_conf() {
	local role=$1 level=$2 suite=$3 f=$TMP/st-$1-$2.conf

	cat >"$f" <<EOF
foreground = yes
pid =
syslog = no
debug = $level
EOF
	if [ "$role" = client ]; then
		cat >>"$f" <<EOF
[bench-tls-client]
client = yes
accept = 127.0.0.1:$ST_C
connect = 127.0.0.1:$ST_S
cert = $CERTS/client.crt
key = $CERTS/client.key
CAfile = $CERTS/ca.crt
verifyChain = yes
checkHost = godoxy.agent
sni = godoxy.agent
EOF
	else
		cat >>"$f" <<EOF
[bench-tls-server]
accept = 127.0.0.1:$ST_S
connect = 127.0.0.1:$ECHO_TCP
cert = $CERTS/server.crt
key = $CERTS/server.key
CAfile = $CERTS/ca.crt
verifyChain = yes
EOF
	fi
	cat >>"$f" <<EOF
sslVersionMin = TLSv1.3
sslVersionMax = TLSv1.3
ciphersuites = $suite
EOF
}

# Proxies (pair_stop, pair_probe in lib.sh). ----------------------------

# st_level LEVEL: flowgate's log level as a stunnel "debug" level.
st_level() {
	case "$1" in
	debug)	echo 6 ;;
	info)	echo 5 ;;
	*)	echo 4 ;;
	esac
}

# server_start COLUMN LEVEL: starts that column's server side only, with
# LEVEL one of flowgate's log levels warn, info or debug.
server_start() {
	if [ "$1" = flowgate ]; then
		start_bg flowgate-server "${FG_ENV[@]}" "$FLOWGATE" run \
		    -c "$TMP/fg-server-$2.yml"
	else
		start_bg stunnel-server "$STUNNEL" \
		    "$TMP/st-server-$(st_level "$2").conf"
	fi
	SRV_PID=$BG_PID
}

# pair_start COLUMN LEVEL: starts a client and server pair (none for
# direct) and probes the whole path through it; sets TARGET, or returns 1
# with a reason in WHY.
pair_start() {
	local col=$1 level=$2

	WHY=""
	case "$col" in
	direct)
		TARGET=127.0.0.1:$ECHO_TCP
		return 0
		;;
	stunnel)
		if [ "$HAVE_ST" = 0 ]; then
			WHY=skipped
			return 1
		fi
		TARGET=127.0.0.1:$ST_C
		server_start stunnel "$level"
		start_bg stunnel-client "$STUNNEL" \
		    "$TMP/st-client-$(st_level "$level").conf"
		CLI_PID=$BG_PID
		;;
	flowgate)
		TARGET=127.0.0.1:$FG_C
		server_start flowgate "$level"
		start_bg flowgate-client "${FG_ENV[@]}" "$FLOWGATE" run \
		    -c "$TMP/fg-client-$level.yml"
		CLI_PID=$BG_PID
		;;
	plain)
		TARGET=127.0.0.1:$PL_C
		fg_pair_start plain "$TMP/fg-plain-server.yml" \
		    "$TMP/fg-plain-client.yml"
		;;
	esac
	pair_probe "$col" tcp "$TARGET"
}

# hs_server_start COLUMN: starts a server side alone and waits until a
# full mTLS handshake with the client certificate succeeds on it.
hs_server_start() {
	local col=$1 port _

	WHY=""
	if [ "$col" = stunnel ] && [ "$HAVE_ST" = 0 ]; then
		WHY=skipped
		return 1
	fi
	if [ "$HAVE_OSSL" = 0 ]; then
		WHY="no openssl"
		return 1
	fi
	if [ "$col" = flowgate ]; then port=$FG_S; else port=$ST_S; fi
	HS_PORT=$port
	# Logged at a level that shows each server-side handshake.
	server_start "$col" info
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		if timeout 5 "$OPENSSL" s_client -connect "127.0.0.1:$port" \
		    -cert "$CERTS/client.crt" -key "$CERTS/client.key" \
		    -CAfile "$CERTS/ca.crt" -verify_return_error -brief \
		    </dev/null >>"$TMP/probe.log" 2>&1; then
			return 0
		fi
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.5
	done
	WHY=failed
	echo "$col: no mTLS handshake on 127.0.0.1:$port in 5 s; log:" >&2
	tail -n 20 "$TMP/$col-server.log" | sed 's/^/  /' >&2
	pair_stop
	return 1
}

# cpu_ticks PID: utime + stime of the whole process (all threads).
cpu_ticks() {
	local s

	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $((${12} + ${13}))
}

# Which suite does each pair negotiate? ---------------------------------

# The server logs "tls established version=... cipher=...".
detect_suite "tls established"
VERSION=$(echo "$DETECT_LINE" | sed -n 's/.*version=\([^ ]*\).*/\1/p')
if [ "$VERSION" != TLSv1.3 ]; then
	echo "flowgate negotiated $VERSION $SUITE, not TLS 1.3" >&2
	exit 1
fi
if [ -n "$SUITE_REQ" ] && [ "$SUITE" != "$SUITE_REQ" ]; then
	echo "flowgate negotiated $SUITE although $SUITE_REQ was pinned" >&2
	exit 1
fi
st_conf client 4 "$SUITE"
st_conf server 4 "$SUITE"
st_conf client 5 "$SUITE"
st_conf server 5 "$SUITE"
st_conf client 6 "$SUITE"
st_conf server 6 "$SUITE"

# The same for stunnel (info level logs the suite and the key share).
ST_SUITE=""
if [ "$HAVE_ST" = 1 ]; then
	if pair_start stunnel debug; then
		sleep 0.2
		ST_SUITE=$(sed -n \
		    's/.*\(TLSv1\.[23]\) ciphersuite: \([^ ]*\).*/\1 \2/p' \
		    "$TMP/stunnel-server.log" | head -n 1)
	fi
	pair_stop
	if [ "$ST_SUITE" != "TLSv1.3 $SUITE" ]; then
		echo "stunnel negotiated '${ST_SUITE:-nothing}'," \
		    "not TLSv1.3 $SUITE" >&2
		exit 1
	fi
fi

# What a plain OpenSSL client sees from each server side: protocol,
# suite, key exchange group and signature (the handshake parameters).
server_params() {
	local col=$1

	hs_server_start "$col" || { echo "$WHY"; return; }
	timeout 5 "$OPENSSL" s_client -connect "127.0.0.1:$HS_PORT" \
	    -cert "$CERTS/client.crt" -key "$CERTS/client.key" \
	    -CAfile "$CERTS/ca.crt" -brief </dev/null 2>&1 |
	    sed -n 's/^\(Protocol version\|Ciphersuite\|Signature type\|Hash used\|Server Temp Key\|Verification\): */\1 /p' |
	    paste -sd ';' - | sed 's/;/; /g'
	pair_stop
}

# mean X...: the mean of the numbers among X ("-" and empty ones left
# out), to two decimals, or "-".
mean() {
	echo "$@" | tr ' ' '\n' | awk '/^[0-9.]+$/ { t += $1; n++ }
	    END { if (n > 0) printf "%.2f", t / n; else print "-" }'
}

# count_ge LIMIT X...: how many of the numbers X are LIMIT or more.
count_ge() {
	local l=$1

	shift
	echo "$@" | tr ' ' '\n' | awk -v l="$l" '/^[0-9.]+$/ && $1 >= l { n++ }
	    END { print n + 0 }'
}

# Scenarios. ------------------------------------------------------------

SCEN_NAMES=("tcp 1 conn" "tcp 8 conns" "mTLS handshakes")
SCEN_ARGS=("-c 1" "-c 8" "")
COLS=(direct stunnel flowgate)
[ "$FLOOR" = 1 ] && COLS+=(plain)
# Per round (ROUND), for --floor: Mbit/s, CPU s/GiB of the pair, and of
# the generator and echo server.
declare -A R_MBIT R_PAIR R_G

# Results (VAL, CPU, LINE, CPULINE, NOTE in lib.sh): Mbit/s or
# handshakes/s, and CPU s/GiB or ms per handshake.

# measure_tcp SCENARIO COLUMN: one throughput run.
measure_tcp() {
	local s=$1 col=$2 out rc key=$1,$2 c0 c1 s0 s1 e0 e1 rd cpu cl g ok

	if ! pair_start "$col" warn; then
		start_failed "$key"
		return
	fi
	if [ "$col" != direct ]; then
		c0=$(cpu_ticks "$CLI_PID")
		s0=$(cpu_ticks "$SRV_PID")
	fi
	e0=$(cpu_ticks "$ECHO_PID")
	steal_mark
	# shellcheck disable=SC2086
	out=$(timeout $((DURATION + 15)) "$FG_BENCH" tcp -t "$TARGET" \
	    -d "$DURATION" ${SCEN_ARGS[$s]} 2>>"$TMP/gen.log")
	rc=$?
	e1=$(cpu_ticks "$ECHO_PID")
	if [ "$col" != direct ]; then
		c1=$(cpu_ticks "$CLI_PID")
		s1=$(cpu_ticks "$SRV_PID")
		if ! pair_alive; then
			echo "  $col: a proxy exited during the run" >&2
			rc=1
		fi
	fi
	pair_stop
	result_line "$key" "${SCEN_NAMES[$s]} / $col" tcp "$out" "$rc" ||
	    return
	out=$RESULT
	keep_best "$key" "$(field "$out" mbit_s)" "$out" "$rc"
	# CPU seconds per GiB echoed: of the generator and the echo server,
	# and of both proxies; every echoed byte crossed each proxy twice,
	# once each way.  Only runs without errors count round by round.
	rd=$(field "$out" read)
	g=$(awk -v e=$((e1 - e0)) -v c="$(field "$out" cpu)" \
	    -v t="$CLK_TCK" -v b="$rd" 'BEGIN { if (b > 0 && e >= 0 &&
	    c ~ /^[0-9.]+$/) printf "%.2f", (e / t + c) / (b / 1073741824); }')
	ok=0
	[ "$rc" = 0 ] && [ "$(field "$out" errors)" = 0 ] && ok=1
	if [ "$ok" = 1 ]; then
		# shellcheck disable=SC2034  # read through ratio's nameref
		R_MBIT[$ROUND,$key]=$(field "$out" mbit_s)
		R_G[$ROUND,$key]=$g
	fi
	if [ "$col" = direct ]; then
		echo "    cpu: generator and echo server $g s/GiB"
		return
	fi
	cpu=$(awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v t="$CLK_TCK" \
	    -v b="$rd" 'BEGIN { if (b > 0) printf "%.2f",
	    (c + s) / t / (b / 1073741824); }')
	[ "$ok" = 1 ] && R_PAIR[$ROUND,$key]=$cpu
	cl=$(awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v t="$CLK_TCK" \
	    -v b="$rd" 'BEGIN { printf "client %.2f s, server %.2f s for" \
	    " %.2f GiB", c / t, s / t, b / 1073741824 }')
	echo "    cpu: $cl -> $cpu s/GiB; generator and echo server $g s/GiB"
	if [ -n "$cpu" ] && { [ -z "${CPU[$key]:-}" ] ||
	    better "$cpu" "${CPU[$key]}" min; }; then
		CPU[$key]=$cpu
		CPULINE[$key]=$cl
	fi
}

# measure_hs SCENARIO COLUMN: s_time -new against a server side alone;
# handshakes per wall-clock second, checked against the server's log.
measure_hs() {
	local s=$1 col=$2 key=$1,$2 out t0 t1 n srv v c0 c1 cpu

	if [ "$col" = direct ] || [ "$col" = plain ]; then
		NOTE[$key]=-
		return
	fi
	if ! hs_server_start "$col"; then
		start_failed "$key"
		return
	fi
	: >"$TMP/$col-server.mark"
	cp "$TMP/$col-server.log" "$TMP/$col-server.before"
	c0=$(cpu_ticks "$SRV_PID")
	t0=$(date +%s.%N)
	out=$(timeout $((HSTIME + 20)) "$OPENSSL" s_time \
	    -connect "127.0.0.1:$HS_PORT" -new -cert "$CERTS/client.crt" \
	    -key "$CERTS/client.key" -CAfile "$CERTS/ca.crt" \
	    -ciphersuites "$SUITE" -time "$HSTIME" 2>&1)
	t1=$(date +%s.%N)
	sleep 0.3
	c1=$(cpu_ticks "$SRV_PID")
	# Handshakes the server finished: flowgate logs each as a close for
	# want of ALPN (s_time offers none), stunnel as an accepted client
	# certificate, each only after verifying it.
	if [ "$col" = flowgate ]; then
		srv=$(($(grep -c 'reason=alpn' "$TMP/$col-server.log") -
		    $(grep -c 'reason=alpn' "$TMP/$col-server.before")))
	else
		srv=$(($(grep -c 'Certificate accepted at depth=0' \
		    "$TMP/$col-server.log") - $(grep -c \
		    'Certificate accepted at depth=0' \
		    "$TMP/$col-server.before")))
	fi
	pair_stop
	n=$(echo "$out" | sed -n 's/^\([0-9]*\) connections in [0-9.]*s;.*/\1/p' |
	    head -n 1)
	if [ -z "$n" ] || [ "$n" = 0 ]; then
		echo "  ${SCEN_NAMES[$s]} / $col: s_time failed:" >&2
		echo "$out" | tail -n 5 | sed 's/^/    /' >&2
		NOTE[$key]=failed
		FAILED=1
		return
	fi
	v=$(awk -v n="$n" -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.0f", n / (b - a) }')
	# Server CPU per handshake: steadier than the rate, which also
	# depends on how much CPU s_time itself got.
	cpu=$(awk -v c=$((c1 - c0)) -v t="$CLK_TCK" -v n="$n" \
	    'BEGIN { printf "%.2f", c / t * 1000 / n }')
	echo "  ${SCEN_NAMES[$s]} / $col: $n handshakes in" \
	    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s" \
	    "= $v/s; server logged $srv; server CPU $cpu ms each"
	if [ -z "${CPU[$key]:-}" ] || better "$cpu" "${CPU[$key]}" min; then
		CPU[$key]=$cpu
	fi
	if [ "$srv" != "$n" ]; then
		NOTE[$key]=errors
		FAILED=1
	fi
	if [ -z "${VAL[$key]:-}" ] || better "$v" "${VAL[$key]}" max; then
		VAL[$key]=$v
		LINE[$key]="s_time $n handshakes, server logged $srv"
	fi
}

# The cipher's cost for --floor: CPU seconds per GiB echoed for its four
# passes, two encrypting and two decrypting, at "openssl speed" on 16 KiB
# blocks (one full record each), the best of three 1 s runs each: on this
# shared machine one run may come out a third slower.
CIPHER_SPG=
if [ "$FLOOR" = 1 ]; then
	case "$SUITE" in
	TLS_AES_256_GCM_SHA384)		EVP=aes-256-gcm ;;
	TLS_AES_128_GCM_SHA256)		EVP=aes-128-gcm ;;
	TLS_CHACHA20_POLY1305_SHA256)	EVP=chacha20-poly1305 ;;
	*)	echo "--floor: no openssl speed name for $SUITE" >&2; exit 1 ;;
	esac
	# speed_kbs [-decrypt]: thousands of bytes per second on 16 KiB.
	speed_kbs() {
		local _

		for _ in 1 2 3; do
			"$OPENSSL" speed -elapsed -seconds 1 -bytes 16384 \
			    "$@" -evp "$EVP" 2>/dev/null | awk '$NF ~ /k$/ {
			    v = $NF; sub(/k$/, "", v); print v }' | tail -n 1
		done | sort -g | tail -n 1
	}
	ENC_KBS=$(speed_kbs)
	DEC_KBS=$(speed_kbs -decrypt)
	CIPHER_SPG=$(awk -v e="$ENC_KBS" -v d="$DEC_KBS" 'BEGIN {
	    if (e > 0 && d > 0) printf "%.2f",
	    2 * 1073741824 / (e * 1000) + 2 * 1073741824 / (d * 1000) }')
	if [ -z "$CIPHER_SPG" ]; then
		echo "--floor: openssl speed -evp $EVP gave nothing" >&2
		exit 1
	fi
fi

# floor_spg R S: the least CPU s/GiB a TLS pair doing flowgate's I/O
# could cost in round R, scenario S, with the generator and echo server.
floor_spg() {
	awk -v pp="${R_PAIR[$1,$2,plain]:-}" -v pg="${R_G[$1,$2,plain]:-}" \
	    -v c="$CIPHER_SPG" 'BEGIN { if (pp != "" && pg != "")
	    printf "%.2f", pp + c + pg }'
}

# ceiling R S: the ceiling of round R, scenario S (see --floor above), or
# nothing when a figure is missing.
ceiling() {
	awk -v f="$(floor_spg "$1" "$2")" -v n="$NCPU" \
	    -v m="${R_MBIT[$1,$2,stunnel]:-}" 'BEGIN { if (f > 0 && m > 0)
	    printf "%.2f", n / f / (m * 1e6 / 8 / 1073741824) }'
}

# round_end, called by rounds after each round: with --floor, each
# throughput scenario's ceiling and flowgate/stunnel in that round.
round_end() {
	local s c a

	if [ "$FLOOR" = 1 ]; then
		for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
			[ -n "${SCEN_ARGS[$s]}" ] || continue
			c=$(ceiling "$ROUND" "$s")
			a=$(ratio R_MBIT "$ROUND,$s,flowgate" \
			    "$ROUND,$s,stunnel")
			echo "  ${SCEN_NAMES[$s]}, round $ROUND:" \
			    "flowgate/stunnel $a, ceiling ${c:--}" \
			    "($NCPU CPUs over plain pair" \
			    "${R_PAIR[$ROUND,$s,plain]:-?} + cipher" \
			    "$CIPHER_SPG + gen/echo" \
			    "${R_G[$ROUND,$s,plain]:-?} CPU s/GiB, against" \
			    "stunnel's ${R_MBIT[$ROUND,$s,stunnel]:-?} Mbit/s;" \
			    "flowgate's pair ${R_PAIR[$ROUND,$s,flowgate]:-?}" \
			    "+ gen/echo ${R_G[$ROUND,$s,flowgate]:-?})"
		done
	fi
	ROUND=$((ROUND + 1))
}

bench_start "flowgate TLS tunnel benchmark"
echo "host: $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs;" \
    "$("$OPENSSL" version 2>/dev/null || echo 'openssl missing');" \
    "stunnel: $([ "$HAVE_ST" = 1 ] && "$STUNNEL" -version 2>&1 |
    sed -n 's/^stunnel \([^ ]*\) .*/\1/p' | head -n 1 || echo missing)"
echo "each run: $DURATION s, best of $ROUNDS round(s); tcp 16 KiB writes," \
    "1 MiB in flight per conn; handshakes: openssl s_time -new" \
    "-time $HSTIME"
if [ -n "$SUITE_REQ" ]; then
	echo "suite: $VERSION $SUITE, pinned on both (flowgate through" \
	    "OPENSSL_CONF system_default, stunnel through ciphersuites)"
else
	echo "suite: flowgate negotiates $VERSION $SUITE (it has no cipher" \
	    "option; server preference, OpenSSL defaults); stunnel pinned" \
	    "to it with ciphersuites = $SUITE, sslVersionMin/Max = TLSv1.3"
fi
echo "certificates: flowgate certs (ECDSA P-256); mTLS on both servers"
if [ "$FLOOR" = 1 ]; then
	echo "floor: plain flowgate pair (tcp -> tcp -> tcp, workers 0);" \
	    "$EVP on 16 KiB: $ENC_KBS / $DEC_KBS kB/s (encrypt / decrypt)" \
	    "-> $CIPHER_SPG CPU s/GiB echoed"
fi
echo "as seen by openssl s_client:"
echo "  flowgate server: $(server_params flowgate)"
[ "$HAVE_ST" = 1 ] && echo "  stunnel server:  $(server_params stunnel)"
[ "$HAVE_ST" = 1 ] || echo "stunnel: skipped (not installed)"
echo

# measure SCENARIO COLUMN: a throughput or a handshake run.
measure() {
	if [ -n "${SCEN_ARGS[$1]}" ]; then
		measure_tcp "$1" "$2"
	else
		measure_hs "$1" "$2"
	fi
}
rounds

# The table. ------------------------------------------------------------

row() {
	printf '| %-28s | %-13s | %9s | %9s | %9s | %16s | %15s |\n' "$@"
}

echo
row scenario unit direct stunnel flowgate flowgate/stunnel flowgate/direct
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------------ \
    --------------- ----------: ----------: ----------: \
    -----------------: ----------------:
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	if [ -n "${SCEN_ARGS[$s]}" ]; then
		row "${SCEN_NAMES[$s]}" Mbit/s "$(cell VAL "$s" direct)" \
		    "$(cell VAL "$s" stunnel)" "$(cell VAL "$s" flowgate)" \
		    "$(ratio VAL "$s,flowgate" "$s,stunnel")" \
		    "$(ratio VAL "$s,flowgate" "$s,direct")"
		row "${SCEN_NAMES[$s]}, CPU of pair" "CPU s/GiB" - \
		    "$(cell CPU "$s" stunnel)" "$(cell CPU "$s" flowgate)" \
		    "$(ratio CPU "$s,flowgate" "$s,stunnel")" -
	else
		row "${SCEN_NAMES[$s]} (server)" "handshakes/s" - \
		    "$(cell VAL "$s" stunnel)" "$(cell VAL "$s" flowgate)" \
		    "$(ratio VAL "$s,flowgate" "$s,stunnel")" -
		row "${SCEN_NAMES[$s]}, server CPU" "CPU ms/hs" - \
		    "$(cell CPU "$s" stunnel)" "$(cell CPU "$s" flowgate)" \
		    "$(ratio CPU "$s,flowgate" "$s,stunnel")" -
	fi
done
echo
echo "Mbit/s: payload echoed back to the generator (one direction);"
echo "CPU s/GiB: client plus server proxy CPU (user+system, all threads)"
echo "per GiB echoed; CPU ms/hs: the server side's CPU per handshake."
echo "For both CPU rows lower is better, so flowgate/stunnel < 1 favours"
echo "flowgate.  Each figure is the best of the rounds on its own."
echo "handshakes/s: one s_time client, one handshake at a time (-new, no"
echo "resumption), wall clock; stunnel also dials the echo server after"
echo "each handshake, flowgate closes it for want of ALPN (s_time offers"
echo "none)."

echo
echo "flowgate/stunnel round by round (the two of one round ran a few"
echo "seconds apart, the best of each column maybe rounds apart)$([ \
    "$FLOOR" = 1 ] && echo ", and the ceiling of --floor"):"
for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
	[ -n "${SCEN_ARGS[$s]}" ] || continue
	cs=""
	as=""
	for ((r = 1; r < ROUND; r++)); do
		cs="$cs $(ceiling "$r" "$s")"
		as="$as $(ratio R_MBIT "$r,$s,flowgate" "$r,$s,stunnel")"
	done
	# shellcheck disable=SC2086
	echo "  ${SCEN_NAMES[$s]}: flowgate/stunnel mean $(mean $as)," \
	    "$(count_ge 1.5 $as) of $((ROUND - 1)) at 1.5 or more" \
	    "(rounds:$as)$([ "$FLOOR" = 1 ] &&
	    echo "; ceiling mean $(mean $cs) (rounds:$cs)")"
done

gen_lines
echo
echo "flowgate configs (log level warn for throughput, info for handshakes):"
sed 's/^/  /' "$TMP/fg-client-warn.yml" "$TMP/fg-server-warn.yml"
[ -n "$SUITE_REQ" ] && sed 's/^/  /' "$TMP/openssl-fg.cnf"
if [ "$HAVE_ST" = 1 ]; then
	echo "stunnel configs (debug 4 for throughput, 5 for handshakes):"
	sed 's/^/  /' "$TMP/st-client-4.conf" "$TMP/st-server-4.conf"
fi
bench_finish
