# lib.sh: the counters and the command runner every guest check uses.
# Sourced by init; POSIX sh as busybox runs it.

PASSED=0
FAILED=0
FAILURES=""

section() { printf '\n=== %s ===\n' "$*"; }
pass() {
	PASSED=$((PASSED + 1))
	echo "PASS: $*"
}
fail() {
	FAILED=$((FAILED + 1))
	FAILURES="$FAILURES
  - $*"
	echo "FAIL: $*"
}

# uptime_cs prints the time since boot in hundredths of a second.
uptime_cs() {
	read -r up _ </proc/uptime
	echo "${up%.*}${up#*.}" | sed 's/^0*//;s/^$/0/'
}

# run LIMIT CMD [ARG...] prints the command, runs it with stdin closed under
# a LIMIT-second timeout, prints what it wrote (stdout as "| ", stderr as
# "! ") and its exit status. It leaves RC, ELAPSED_CS (hundredths of a
# second), and the output in $RUN_OUT and $RUN_ERR. busybox timeout ends the
# command with SIGTERM, so a command that hit the limit exits 143.
RUN_OUT=/tmp/run.out
RUN_ERR=/tmp/run.err
run() {
	limit=$1
	shift
	echo "\$ $*"
	t0=$(uptime_cs)
	timeout "$limit" "$@" >"$RUN_OUT" 2>"$RUN_ERR" </dev/null
	RC=$?
	ELAPSED_CS=$(($(uptime_cs) - t0))
	sed 's/^/  | /' "$RUN_OUT"
	sed 's/^/  ! /' "$RUN_ERR"
	TIMED_OUT=no
	if [ "$RC" = 143 ] && [ "$ELAPSED_CS" -ge $((limit * 100)) ]; then
		TIMED_OUT=yes
		echo "  -> killed after ${limit}s limit"
	else
		printf '  -> exit %s after %d.%02ds\n' "$RC" $((ELAPSED_CS / 100)) $((ELAPSED_CS % 100))
	fi
}

# output_has PATTERN: whether the last run's stdout or stderr matches the
# extended regular expression PATTERN (case-insensitive).
output_has() { cat "$RUN_OUT" "$RUN_ERR" | grep -qiE -- "$1"; }
stdout_has() { grep -qiE -- "$1" "$RUN_OUT"; }

# crashed: whether the last run printed a Go panic or goroutine dump.
crashed() { output_has '^(panic:|fatal error:|goroutine [0-9]+ \[)'; }

# wait_for PATH SECONDS: wait until PATH exists, polling every 0.1 s.
wait_for() {
	n=$(($2 * 10))
	while [ ! -e "$1" ] && [ "$n" -gt 0 ]; do
		usleep 100000
		n=$((n - 1))
	done
	[ -e "$1" ]
}
