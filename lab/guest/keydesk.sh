# keydesk.sh: keydesk against the lab's key. `keydesk softkey` serves the
# device side (/dev/hidg0); `keydesk key ...` talks to the host side through
# libusb and hidraw, as it would to a key on a help-desk PC. Contract checked
# (the CLI's promise to scripts): exit 0 on success, 1 on failure, no hang and no
# Go panic when the key misbehaves.

section "keydesk"
T=$LAB_CMD_TIMEOUT
# The relying party keys are registered for, as a university names it.
export KEYDESK_RP_ID=example.edu
# How long the soft key waits before its pretend user touches it: long
# enough for "Touch your key now", short enough for a lab under TCG.
SK_TOUCH=300ms
SK_STATE=/tmp/sk.state
SK_LOG=/tmp/softkey.log
SK_PID=""

# Each misbehaving soft key mode, and why a client must refuse it.
MISBEHAVE_MODES="wrong-nonce bad-seq oversize garbage silent"

# softkey_start [FLAG...] starts the soft key in the background and waits
# until it holds /dev/hidg0 open. Returns 1 if it exits or never opens it.
softkey_start() {
	echo "\$ keydesk softkey --hidg /dev/hidg0 --state $SK_STATE --touch-delay $SK_TOUCH${*:+ $*} &"
	keydesk softkey --hidg /dev/hidg0 --state "$SK_STATE" --touch-delay "$SK_TOUCH" "$@" >"$SK_LOG" 2>&1 </dev/null &
	SK_PID=$!
	n=100
	while [ $n -gt 0 ]; do
		kill -0 "$SK_PID" 2>/dev/null || break
		for fd in /proc/"$SK_PID"/fd/*; do
			if [ "$(readlink "$fd" 2>/dev/null)" = /dev/hidg0 ]; then
				echo "  -> pid $SK_PID serving /dev/hidg0"
				return 0
			fi
		done
		usleep 100000
		n=$((n - 1))
	done
	softkey_stop
	return 1
}

# softkey_stop ends the soft key, prints its log, and fails the check named
# by $1 (if any) when the soft key had already exited or panicked.
softkey_stop() {
	if [ -n "$SK_PID" ]; then
		if [ -n "$1" ] && ! kill -0 "$SK_PID" 2>/dev/null; then
			fail "softkey exited on its own ($1)"
		fi
		kill "$SK_PID" 2>/dev/null
		wait "$SK_PID" 2>/dev/null
		echo "  softkey (pid $SK_PID) stopped; its log:"
		sed 's/^/  sk| /' "$SK_LOG"
	fi
	SK_PID=""
	if grep -qE '^(panic:|fatal error:|goroutine [0-9]+ \[)' "$SK_LOG"; then
		fail "softkey panicked${1:+ ($1)}"
	fi
}

# expect_ok NAME [PATTERN]: the last run exited 0 and, if given, printed
# something matching PATTERN.
expect_ok() {
	if [ "$TIMED_OUT" = yes ]; then
		fail "$1: hung (killed after ${T}s)"
	elif crashed; then
		fail "$1: Go panic"
	elif [ "$RC" != 0 ]; then
		fail "$1: exit $RC, want 0"
	elif [ -n "$2" ] && ! output_has "$2"; then
		fail "$1: output does not match /$2/"
	else
		pass "$1"
	fi
}

# expect_refused NAME: the last run exited 1, in time, without a panic, and
# said why on stderr.
expect_refused() {
	if [ "$TIMED_OUT" = yes ]; then
		fail "$1: hung (killed after ${T}s)"
	elif crashed; then
		fail "$1: Go panic"
	elif [ "$RC" != 1 ]; then
		fail "$1: exit $RC, want 1"
	elif [ ! -s "$RUN_ERR" ]; then
		fail "$1: exit 1 but no error message on stderr"
	else
		pass "$1: refused with \"$(head -n 1 "$RUN_ERR")\""
	fi
}

# expect_denied NAME: the last run was a decision to deny: exit 1, in
# time, without a panic, and "deny: <reason>" on stdout (the CLI contract
# prints decisions on stdout, so stderr stays empty).
expect_denied() {
	if [ "$TIMED_OUT" = yes ]; then
		fail "$1: hung (killed after ${T}s)"
	elif crashed; then
		fail "$1: Go panic"
	elif [ "$RC" != 1 ]; then
		fail "$1: exit $RC, want 1"
	elif ! stdout_has '^deny: '; then
		fail "$1: exit 1 but no \"deny: ...\" on stdout"
	else
		pass "$1: denied with \"$(head -n 1 "$RUN_OUT")\""
	fi
}

# keydesk_ready: whether this keydesk has the commands the lab drives. A
# missing command is one failure that names what is missing, not a
# cascade of confusing ones.
keydesk_ready() {
	missing=""
	timeout 30 keydesk --help >/tmp/help.top 2>&1 </dev/null
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 2 ]; then
		sed 's/^/  | /' /tmp/help.top
		fail "keydesk --help exits $rc in the guest (missing shared library?)"
		return 1
	fi
	timeout 30 keydesk key --help >/tmp/help.key 2>&1 </dev/null
	timeout 30 keydesk softkey --help >/tmp/help.softkey 2>&1 </dev/null
	# urfave/cli lists subcommands as "   NAME[, ALIAS]   usage".
	for c in softkey key user; do
		grep -qE "^[[:space:]]+$c([ ,]|\$)" /tmp/help.top || missing="$missing $c"
	done
	for c in list wink register test; do
		grep -qE "^[[:space:]]+$c([ ,]|\$)" /tmp/help.key || missing="$missing key-$c"
	done
	grep -q -- "--hidg" /tmp/help.softkey || missing="$missing softkey--hidg"
	grep -q -- "--state" /tmp/help.softkey || missing="$missing softkey--state"
	if [ -n "$missing" ]; then
		for f in top key softkey; do
			[ $f = top ] && echo "  keydesk --help:" || echo "  keydesk $f --help:"
			sed 's/^/  | /' /tmp/help.$f
		done
		fail "keydesk key commands not built yet (missing:$missing)"
		return 1
	fi
	return 0
}

keydesk_checks() {
	if [ ! -x /usr/bin/keydesk ]; then
		fail "keydesk key commands not built yet: no keydesk binary (cmd/keydesk missing or did not build; see the host's run.sh output)"
		return
	fi
	echo "keydesk in the guest: $(ls -l /usr/bin/keydesk)"
	# The inventory side needs no key: it shows keydesk, sqlite and the
	# master key work in the guest even before the key commands exist.
	run "$T" keydesk init
	expect_ok "init makes the inventory and its master key" "new inventory"
	run "$T" keydesk user add alice
	expect_ok "user add alice" "alice"
	keydesk_ready || return

	section "keydesk: a well-behaved key"
	if ! softkey_start; then
		fail "keydesk softkey did not start serving /dev/hidg0"
		return
	fi
	run "$T" keydesk key list
	expect_ok "key list shows $VIDHEX:$PIDHEX" "$VIDHEX:$PIDHEX"
	expect_ok "key list shows the manufacturer" "keydesk lab"
	expect_ok "key list shows the product" "keydesk softkey"
	expect_ok "key list shows the serial" "LAB0001"
	# --json is global in keydesk's CLI (urfave/cli takes it before the
	# command), and the docs write it after too. Either form will do.
	run "$T" keydesk key list --json
	[ "$RC" = 2 ] && run "$T" keydesk --json key list
	expect_ok "key list --json names the key" 'keydesk softkey'
	if [ "$RC" = 0 ] && ! tr -d ' \t\n' <"$RUN_OUT" | grep -qE '^[[{].*[]}]$'; then
		fail "key list --json: stdout is not one JSON value"
	fi
	run "$T" keydesk key wink
	expect_ok "key wink"
	if [ -n "$HIDRAW" ]; then
		run "$T" keydesk key wink --device "$HIDRAW"
		expect_ok "key wink --device $HIDRAW"
	fi
	run "$T" keydesk key register alice --name lab-key
	expect_ok "key register alice --name lab-key" "lab-key"
	run "$T" keydesk key test alice
	expect_ok "key test alice"
	softkey_stop "well-behaved"

	# The registration lives in the soft key's state file: a restarted key
	# must still sign for it.
	section "keydesk: the same key after a restart"
	if softkey_start; then
		run "$T" keydesk key test alice
		expect_ok "key test alice after the soft key restarted with the same --state"
		softkey_stop "restart"
	else
		fail "keydesk softkey did not restart with $SK_STATE"
	fi

	if ! grep -q -- "--misbehave" /tmp/help.softkey; then
		fail "keydesk softkey --misbehave not built yet: misbehaving-key checks skipped"
		return
	fi
	good_state=$SK_STATE
	for mode in $MISBEHAVE_MODES; do
		section "keydesk: a key that misbehaves: $mode"
		# A fresh key each time, so that registering it gets as far as the
		# REGISTER exchange (a known key is refused before any long answer)
		# and the refusal comes from the broken protocol itself.
		SK_STATE=/tmp/sk-$mode.state
		if ! softkey_start --misbehave "$mode"; then
			fail "keydesk softkey --misbehave $mode did not start"
			continue
		fi
		# register needs a multi-frame answer, so every mode (bad-seq
		# included) breaks it: it must be refused. wink's one-frame answer
		# may survive some modes, so it need only end, in time, cleanly.
		run "$T" keydesk key register alice --name "misbehave-$mode"
		expect_refused "key register against --misbehave $mode"
		if output_has "already registered"; then
			fail "key register against --misbehave $mode: refused as a known key, before the bad frames"
		fi
		run "$T" keydesk key wink
		if [ "$TIMED_OUT" = yes ]; then
			fail "key wink against --misbehave $mode: hung (killed after ${T}s)"
		elif crashed; then
			fail "key wink against --misbehave $mode: Go panic"
		elif [ "$RC" != 0 ] && [ "$RC" != 1 ]; then
			fail "key wink against --misbehave $mode: exit $RC, want 0 or 1"
		else
			pass "key wink against --misbehave $mode ends cleanly (exit $RC)"
		fi
		softkey_stop "misbehave $mode"
	done
	SK_STATE=$good_state

	# A client that gave up on a bad key must leave nothing behind that
	# trips up the next one (stale reports, a held device).
	section "keydesk: a good key again"
	if softkey_start; then
		run "$T" keydesk key test alice
		expect_ok "key test alice after the misbehaving keys"
		# A touch at verify time, as an application's user would.
		run "$T" keydesk verify --user alice
		expect_ok "verify --user alice with a touch" "allow: touch accepted from key #1"
		run "$T" keydesk user show alice
		expect_ok "user show alice lists the key" '#1 +"lab-key"'
		# A removed key is refused, and stays on record.
		run "$T" keydesk key remove alice lab-key
		expect_ok "key remove alice lab-key"
		run "$T" keydesk key test alice
		expect_denied "key test alice after the key was removed"
		run "$T" keydesk audit
		expect_ok "the audit log has the key's life" "key remove"
		softkey_stop "after misbehave"
	else
		fail "keydesk softkey did not start after the misbehaving keys"
	fi

	fido2_checks
}

. /lab/fido2.sh
keydesk_checks
