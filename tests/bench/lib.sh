# shellcheck shell=bash
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
# Shell functions shared by the benchmarks (run.sh, tls.sh, dtls.sh);
# sourced by them, never run on its own.  It needs bash, as they do.
#
# What a script provides: SCRIPT_DIR (its directory), usage (exits 2),
# CMDLINE, DURATION, ROUNDS and QUICK from its arguments, and for the
# report SCEN_NAMES and COLS.  What bench_init sets up: TMP (removed on
# exit), FAILED, and the process groups of everything started with
# start_bg, all stopped on exit.

# Results, keyed "scenario,column": the best value of the rounds (VAL) and
# its generator line (LINE), the best CPU figure (CPU) and its line
# (CPULINE) where a script measures CPU, and NOTE: why there is no value
# (skipped, failed) or "errors".
# shellcheck disable=SC2034  # CPU is read through cell and ratio
declare -A VAL LINE CPU CPULINE NOTE

# Arguments. ------------------------------------------------------------

# The options every script has, at their defaults (bench_arg and
# check_args set them), and the command line for the report: sourced
# without arguments, this file sees the script's own $0 and arguments.
DURATION=
ROUNDS=1
QUICK=0
CMDLINE="$0${*:+ $*}"

# bench_arg ARG...: takes an option every script has (--duration S,
# --rounds N, --quick, -h), --flows N in a script that sets FLOWS, or
# --window N in one that sets WINDOW,
# from the front of ARG, leaving the number of words it used in NARG: 0
# if the first is none of those.
bench_arg() {
	NARG=0
	case "$1" in
	--duration)	[ $# -ge 2 ] || usage; DURATION=$2; NARG=2 ;;
	--duration=*)	DURATION=${1#*=}; NARG=1 ;;
	--rounds)	[ $# -ge 2 ] || usage; ROUNDS=$2; NARG=2 ;;
	--rounds=*)	ROUNDS=${1#*=}; NARG=1 ;;
	--quick)	QUICK=1; NARG=1 ;;
	-h|--help)	usage ;;
	esac
	if [ -n "${FLOWS+set}" ]; then
		case "$1" in
		--flows)	[ $# -ge 2 ] || usage; FLOWS=$2; NARG=2 ;;
		--flows=*)	FLOWS=${1#*=}; NARG=1 ;;
		esac
	fi
	if [ -n "${WINDOW+set}" ]; then
		case "$1" in
		--window)	[ $# -ge 2 ] || usage; WINDOW=$2; NARG=2 ;;
		--window=*)	WINDOW=${1#*=}; NARG=1 ;;
		esac
	fi
	return 0
}

# bench_args ARG...: for a script with no options of its own: every
# argument through bench_arg (usage on any other), then check_args.
bench_args() {
	while [ $# -gt 0 ]; do
		bench_arg "$@"
		[ "$NARG" -gt 0 ] || usage
		shift "$NARG"
	done
	check_args
}

# check_args: applies --quick (2 s runs instead of 6 unless --duration was
# given) and the bounds every script shares, calling usage if one is off;
# FLOWS, if the script has it, must be a number (its bounds are the
# script's).
check_args() {
	if [ -z "$DURATION" ]; then
		if [ "$QUICK" = 1 ]; then DURATION=2; else DURATION=6; fi
	fi
	case "$DURATION" in ''|*[!0-9]*) usage ;; esac
	case "$ROUNDS" in ''|*[!0-9]*) usage ;; esac
	case "${FLOWS-0}" in ''|*[!0-9]*) usage ;; esac
	case "${WINDOW-8}" in ''|*[!0-9]*) usage ;; esac
	if [ "${WINDOW-8}" -lt 1 ] || [ "${WINDOW-8}" -gt 4096 ]; then
		usage
	fi
	if [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 600 ] ||
	    [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 10 ]; then
		usage
	fi
}

# Processes. ------------------------------------------------------------

# bench_init NAME: a scratch directory $TMP (fg-NAME.XXXXXX) and the traps
# that stop every process group and remove $TMP however the script ends.
bench_init() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/fg-$1.XXXXXX") || exit 1
	PGIDS=""
	FAILED=0
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

# Each child runs in its own session (setsid), so one kill of its
# process group takes everything it started (socat's forked children)
# with it.
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

# start_bg NAME CMD...: runs CMD in the background, logging to $TMP/NAME.log;
# the pid (also its process group) is left in BG_PID.  setsid execs in
# place here (a background child of a non-interactive shell is not a
# group leader), so BG_PID is the proxy itself, whose /proc/PID files we
# read and to which we send signals.
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

# find_fg_bench: FG_BENCH from the environment, else the one next to the
# script or under $PWD, else built from fg-bench.c into $TMP (with CC);
# exits if there is none.
find_fg_bench() {
	local f

	if [ -z "${FG_BENCH:-}" ]; then
		for f in "$SCRIPT_DIR/fg-bench" "$PWD/tests/bench/fg-bench"; do
			if [ -x "$f" ]; then
				FG_BENCH=$f
				break
			fi
		done
	fi
	if [ -z "${FG_BENCH:-}" ] || [ ! -x "$FG_BENCH" ]; then
		echo "fg-bench not found; building it from" \
		    "$SCRIPT_DIR/fg-bench.c" >&2
		if ! ${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -pthread \
		    -o "$TMP/fg-bench" "$SCRIPT_DIR/fg-bench.c" -lm; then
			echo "cannot build fg-bench; set FG_BENCH" >&2
			exit 1
		fi
		FG_BENCH=$TMP/fg-bench
	fi
}

# find_flowgate required|optional: FLOWGATE from the environment, else
# src/flowgate of this tree or under $PWD; HAVE_FG is 1 if it is there.
# If it is required, the script exits without it.
find_flowgate() {
	if [ -z "${FLOWGATE:-}" ]; then
		FLOWGATE=$SCRIPT_DIR/../../src/flowgate
		[ -x "$FLOWGATE" ] || [ ! -x "$PWD/src/flowgate" ] ||
		    FLOWGATE=$PWD/src/flowgate
	fi
	HAVE_FG=0
	if [ -x "$FLOWGATE" ] && [ ! -d "$FLOWGATE" ]; then
		# shellcheck disable=SC2034  # the scripts read it
		HAVE_FG=1
	elif [ "${1:-}" = required ]; then
		echo "flowgate not found at $FLOWGATE; set FLOWGATE" >&2
		exit 1
	fi
}

# make_certs: a CA with server and client certificates (ECDSA P-256) from
# "flowgate certs" in CERTS=$TMP/certs; exits if that fails.
make_certs() {
	CERTS=$TMP/certs
	if ! "$FLOWGATE" certs -d "$CERTS" >"$TMP/certs.log" 2>&1; then
		echo "flowgate certs failed:" >&2
		cat "$TMP/certs.log" >&2
		exit 1
	fi
}

# echo_start PROTO: fg-bench's udp or tcp echo server on 127.0.0.1, for
# the whole run; its port goes to ECHO_UDP or ECHO_TCP.  Exits if it does
# not start.
echo_start() {
	local proto=$1 port

	start_bg "echo-$proto" "$FG_BENCH" "echo-$proto" -l 127.0.0.1:0 \
	    -p "$TMP/echo-$proto.port"
	if ! wait_file "$TMP/echo-$proto.port"; then
		echo "echo server did not start:" >&2
		cat "$TMP/echo-$proto.log" >&2
		exit 1
	fi
	port=$(cat "$TMP/echo-$proto.port")
	# shellcheck disable=SC2034  # the scripts read them
	if [ "$proto" = udp ]; then ECHO_UDP=$port; else ECHO_TCP=$port; fi
}

# fg_confs NAME PLAIN TUNNEL PORT WORKERS: the flowgate pair's
# configurations for each log level (debug, info, warn),
# $TMP/fg-client-LEVEL.yml and $TMP/fg-server-LEVEL.yml, with WORKERS
# workers each (0: one per CPU, flowgate's default).  The client, service
# bench-NAME-client, takes PLAIN (tcp or udp) on FG_C and tunnels it over
# TUNNEL (tls-stream or dtls) to the server, bench-NAME-server on FG_S,
# which forwards it to the echo server on PORT; certificates from CERTS.
fg_confs() {
	local name=$1 plain=$2 tunnel=$3 port=$4 workers=$5 level

	for level in debug info warn; do
		cat >"$TMP/fg-client-$level.yml" <<EOF
workers: $workers
log: {level: $level}
services:
  - name: bench-$name-client
    listen: $plain://127.0.0.1:$FG_C
    forward: $tunnel://127.0.0.1:$FG_S
    destination: 127.0.0.1:$port
    tls: {cert: $CERTS/client.crt, key: $CERTS/client.key, ca: $CERTS/ca.crt}
EOF
		cat >"$TMP/fg-server-$level.yml" <<EOF
workers: $workers
log: {level: $level}
services:
  - name: bench-$name-server
    listen: $tunnel://127.0.0.1:$FG_S
    allow: [127.0.0.1/32]
    tls: {cert: $CERTS/server.crt, key: $CERTS/server.key, ca: $CERTS/ca.crt}
EOF
	done
}

# free_ports VAR...: one port free for both UDP and TCP per variable.
free_ports() {
	local ports i=1 var

	ports=$("$FG_BENCH" freeport -n $#) || exit 1
	for var in "$@"; do
		printf -v "$var" '%s' "$(echo "$ports" | sed -n "${i}p")"
		i=$((i + 1))
	done
}

# Proxies. --------------------------------------------------------------

# probe_path PROTO TARGET PID...: up to 5 s (ten probes of 500 ms) for an
# echo through TARGET, giving up at once when one of PIDs has exited.
probe_path() {
	local proto=$1 target=$2 pid _

	shift 2
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		if "$FG_BENCH" probe "$proto" -t "$target" -o 500 \
		    >>"$TMP/probe.log" 2>&1; then
			return 0
		fi
		for pid in "$@"; do
			kill -0 "$pid" 2>/dev/null || return 1
		done
	done
	return 1
}

# proxy_start COLUMN PROTO (run.sh, floor.sh): starts the proxy for a
# column (direct, socat, flowgate on $FG_PORT with $CONF, or one the
# script's proxy_extra COLUMN starts, setting TARGET and BG_PID) and probes
# the whole path through it; sets TARGET, or returns 1 with a reason in
# WHY.  The echo servers and SOCAT_PORT are the script's.
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
	*)
		proxy_extra "$col" || return 1
		;;
	esac
	PROXY_PID=$BG_PID
	probe_path "$proto" "$TARGET" "$PROXY_PID" && return 0
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

# proxy_measure SCENARIO COLUMN (run.sh, floor.sh): one run of the
# generator through proxy_start's proxy, with the script's SCEN_PROTO,
# SCEN_ARGS and SCEN_NAMES; keeps the better value of the rounds.
proxy_measure() {
	local s=$1 col=$2 proto=${SCEN_PROTO[$1]} out rc v key=$1,$2

	if ! proxy_start "$col" "$proto"; then
		start_failed "$key"
		return
	fi
	steal_mark
	# shellcheck disable=SC2086
	out=$(timeout $((DURATION + 15)) "$FG_BENCH" "$proto" -t "$TARGET" \
	    -d "$DURATION" ${SCEN_ARGS[$s]} 2>>"$TMP/gen.log")
	rc=$?
	proxy_stop
	result_line "$key" "${SCEN_NAMES[$s]} / $col" "$proto" "$out" "$rc" ||
	    return
	if [ "$proto" = udp ]; then
		v=$(field "$RESULT" pps)
	else
		v=$(field "$RESULT" mbit_s)
	fi
	keep_best "$key" "$v" "$RESULT" "$rc"
}

# A client and server proxy pair (tls.sh, dtls.sh): the client side's
# pid (and process group) in CLI_PID, the server side's in SRV_PID, logs
# in $TMP/COLUMN-client.log and $TMP/COLUMN-server.log.
CLI_PID=""
SRV_PID=""

# fg_pair_start NAME SERVER_CONF CLIENT_CONF: a flowgate server and client
# (logs NAME-server.log and NAME-client.log), in SRV_PID and CLI_PID.
fg_pair_start() {
	start_bg "$1-server" "$FLOWGATE" run -c "$2"
	SRV_PID=$BG_PID
	start_bg "$1-client" "$FLOWGATE" run -c "$3"
	CLI_PID=$BG_PID
}

pair_stop() {
	[ -n "$CLI_PID" ] && stop_group "$CLI_PID"
	[ -n "$SRV_PID" ] && stop_group "$SRV_PID"
	CLI_PID=""
	SRV_PID=""
}

# pair_alive: true while both sides of the pair run.
pair_alive() {
	kill -0 "$CLI_PID" 2>/dev/null && kill -0 "$SRV_PID" 2>/dev/null
}

# pair_probe COLUMN PROTO TARGET: probe_path through the pair just
# started; on failure shows both logs, stops the pair and returns 1 with
# WHY=failed.
pair_probe() {
	local col=$1 proto=$2 target=$3

	probe_path "$proto" "$target" "$CLI_PID" "$SRV_PID" && return 0
	WHY=failed
	echo "$col: no $proto echo through $target in 5 s; logs:" >&2
	tail -n 20 "$TMP/$col-client.log" "$TMP/$col-server.log" |
	    sed 's/^/  /' >&2
	pair_stop
	return 1
}

# detect_suite PATTERN: starts the flowgate pair with debug logs, pushes
# one echo through it and reads the first server log line with PATTERN
# ("tls established ... cipher=SUITE") into DETECT_LINE and its cipher
# into SUITE; exits if there is none.
detect_suite() {
	DETECT_LINE=""
	if pair_start flowgate debug; then
		sleep 0.2
		DETECT_LINE=$(grep -h "$1" "$TMP/flowgate-server.log" |
		    head -n 1)
		cp "$TMP/flowgate-server.log" "$TMP/detect-flowgate-server.log"
	fi
	pair_stop
	SUITE=$(echo "$DETECT_LINE" | sed -n 's/.* cipher=\([^ ]*\).*/\1/p')
	if [ -z "$SUITE" ]; then
		echo "cannot tell which suite flowgate negotiates;" \
		    "server log:" >&2
		sed 's/^/  /' "$TMP/detect-flowgate-server.log" >&2 2>/dev/null
		exit 1
	fi
}

# Results. --------------------------------------------------------------

# rounds: ROUNDS rounds of the script's "measure SCENARIO COLUMN" for
# every scenario and column, each round ending with the script's
# round_end if it has one.
rounds() {
	local r s col

	for ((r = 1; r <= ROUNDS; r++)); do
		[ "$ROUNDS" -gt 1 ] && echo "round $r of $ROUNDS"
		for ((s = 0; s < ${#SCEN_NAMES[@]}; s++)); do
			for col in "${COLS[@]}"; do
				measure "$s" "$col"
			done
		done
		if declare -F round_end >/dev/null; then
			round_end
		fi
	done
}

# field LINE KEY: the value of key=value in a generator line.
field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# better A B max|min: true if A is the better of the two.
better() {
	awk -v a="$1" -v b="$2" -v dir="$3" \
	    'BEGIN { exit !(dir == "max" ? a > b : a < b) }'
}

# start_failed KEY: a column that did not start (why in WHY) has no value;
# one that failed, rather than was skipped, fails the whole run.
start_failed() {
	[ -z "${VAL[$1]:-}" ] && NOTE[$1]=$WHY
	[ "$WHY" = failed ] && FAILED=1
}

# steal_mark: remember how much CPU time the hypervisor has taken so far
# (the steal column of /proc/stat), so that result_line can say how much
# of the next run's it took: on a shared virtual machine that, more than
# anything flowgate does, moves a run's figures.
steal_mark() {
	STEAL0=$(awk '/^cpu / { print $9, $2+$3+$4+$5+$6+$7+$8+$9 }' \
	    /proc/stat 2>/dev/null)
}

# steal_pct: the share of all CPU time stolen since steal_mark, in percent.
steal_pct() {
	awk -v a="$STEAL0" '/^cpu / { split(a, x, " ");
	    t = $2+$3+$4+$5+$6+$7+$8+$9 - x[2];
	    printf "%.0f", (t > 0 ? 100 * ($9 - x[1]) / t : 0) }' /proc/stat
}

# result_line KEY LABEL PROTO OUT RC: the generator's result line from its
# output OUT (exit status RC), left in RESULT and shown under LABEL with
# the CPU time the hypervisor stole meanwhile (steal_mark before the
# run); returns 1, marking KEY failed, if there is none.
result_line() {
	RESULT=$(echo "$4" | grep "^$3 " | tail -n 1)
	echo "  $2: ${RESULT:-no result (exit $5)}${STEAL0:+ (host steal $(steal_pct)%)}"
	STEAL0=
	if [ -z "$RESULT" ]; then
		NOTE[$1]=failed
		FAILED=1
		return 1
	fi
}

# keep_best KEY VALUE RESULT RC: marks KEY (and the run) with errors if
# the generator failed or counted any, and keeps VALUE and its RESULT
# line if VALUE is the highest of the rounds so far.
keep_best() {
	local key=$1 v=$2 out=$3 rc=$4 errs

	errs=$(field "$out" errors)
	if [ "$rc" != 0 ] || [ "${errs:-1}" != 0 ]; then
		FAILED=1
		NOTE[$key]=errors
	fi
	if [ -z "${VAL[$key]:-}" ] || better "$v" "${VAL[$key]}" max; then
		VAL[$key]=$v
		LINE[$key]=$out
	fi
}

# The report. -----------------------------------------------------------

# bench_start TITLE: the first lines of the report; the clock starts.
bench_start() {
	START=$(date +%s)
	echo "$1, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "command: FLOWGATE=$FLOWGATE FG_BENCH=$FG_BENCH $CMDLINE"
}

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

# ratio ARRAY KEY_A KEY_B: A / B to two decimals, "-" if either is missing.
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

# gen_lines: the generator line (and CPU line, if any) of each scenario
# and column's best round.
gen_lines() {
	local s col

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
}

# bench_finish: the total time, then exit 0, or 1 (with the generator's
# errors) if any run failed.
bench_finish() {
	echo "total time: $(($(date +%s) - START)) s"
	if [ "$FAILED" != 0 ]; then
		echo "some runs failed or reported errors (marked ! or failed)"
		[ -s "$TMP/gen.log" ] && sed 's/^/  /' "$TMP/gen.log"
		exit 1
	fi
	exit 0
}
