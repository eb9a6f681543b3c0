# fido2.sh: keydesk and the soft key over CTAP2, through the real kernel:
# key info, register with and without a PIN, test, pin set and change,
# resident credentials, reset; and the soft key judged by an independent
# host, Debian's libfido2 tools (fido2-token, fido2-cred, fido2-assert).
# Sourced by keydesk.sh, which defines softkey_start and the expect_*.

PIN1=/tmp/pin1
PIN2=/tmp/pin2
# The soft key's AAGUID (softkey.AAGUID), as keydesk and libfido2 print it.
SK_AAGUID=2a38d610-c3ca-4864-8900-ae3475146b6f
SK_AAGUID_HEX=2a38d610c3ca48648900ae3475146b6f

# libfido2_checks: fido2-token reads the key's getInfo; fido2-cred makes a
# credential and verifies its attestation; fido2-assert gets an assertion
# and verifies it with that credential's key. No PIN is set yet, and -q
# keeps the tools from asking for one.
libfido2_checks() {
	if ! command -v fido2-token >/dev/null; then
		fail "fido2-tools are not in the guest (install fido2-tools on the host)"
		return
	fi
	run "$T" fido2-token -I "$HIDRAW"
	expect_ok "fido2-token -I lists FIDO_2_0" "FIDO_2_0"
	expect_ok "fido2-token -I shows the soft key's AAGUID" "aaguid: $SK_AAGUID_HEX"

	head -c 32 /dev/urandom | base64 >/tmp/cred.param
	echo lab.example >>/tmp/cred.param
	echo lab-user >>/tmp/cred.param
	head -c 32 /dev/urandom | base64 >>/tmp/cred.param
	run "$T" fido2-cred -M -q -i /tmp/cred.param "$HIDRAW" es256
	expect_ok "fido2-cred -M makes a credential on the soft key"
	cp "$RUN_OUT" /tmp/cred.att
	run "$T" fido2-cred -V -i /tmp/cred.att -o /tmp/cred es256
	expect_ok "fido2-cred -V verifies the soft key's attestation"
	if [ ! -s /tmp/cred ]; then
		fail "fido2-cred -V wrote no credential id and key"
		return
	fi

	head -c 32 /dev/urandom | base64 >/tmp/assert.param
	echo lab.example >>/tmp/assert.param
	head -n 1 /tmp/cred >>/tmp/assert.param
	tail -n +2 /tmp/cred >/tmp/cred.pub
	run "$T" fido2-assert -G -i /tmp/assert.param "$HIDRAW"
	expect_ok "fido2-assert -G gets an assertion from the soft key"
	cp "$RUN_OUT" /tmp/assert.out
	run "$T" fido2-assert -V -i /tmp/assert.out /tmp/cred.pub es256
	expect_ok "fido2-assert -V verifies it with the credential's key"
}

fido2_checks() {
	printf '4711\n' >"$PIN1"
	printf '93824\n' >"$PIN2"
	run "$T" keydesk user add bob
	run "$T" keydesk user add carol

	section "keydesk: a FIDO2 key (CTAP2)"
	# A fresh key, which takes a reset for the whole section (real keys:
	# within seconds of being plugged in).
	SK_STATE=/tmp/sk-fido2.state
	if ! softkey_start --reset-window 600s; then
		fail "keydesk softkey did not start for the CTAP2 checks"
		return
	fi
	run "$T" keydesk key info
	expect_ok "key info: U2F and CTAP2" "protocols: +U2F, CTAP2 \(U2F_V2, FIDO_2_0, FIDO_2_1\)"
	expect_ok "key info: the soft key's AAGUID" "$SK_AAGUID"
	expect_ok "key info: no PIN yet" "PIN: +not set \(at least 4 characters\)"
	run "$T" keydesk key register bob --name fido2-key
	expect_ok "key register over CTAP2 without a PIN" "credential: +CTAP2, for example.edu$"
	run "$T" keydesk key test bob
	expect_ok "key test over getAssertion" "key #[0-9]+ \"fido2-key\" of bob works"

	libfido2_checks

	run "$T" keydesk key pin set --pin-file "$PIN1"
	expect_ok "key pin set" "has a PIN now"
	run "$T" keydesk key info
	expect_ok "key info after pin set: 8 tries" "PIN: +set, 8 tries left"
	# The same key again for the same site is refused by the key itself
	# (excludeList); removed, it registers anew.
	run "$T" keydesk key register carol --pin-file "$PIN1"
	expect_refused "key register of a key registered to bob"
	output_has "registered to bob" || fail "the refusal does not name bob"
	run "$T" keydesk key remove bob fido2-key
	expect_ok "key remove bob fido2-key"
	run "$T" keydesk key register bob --name fido2-pin --resident
	expect_refused "key register without the PIN of a key that has one"
	output_has "give it with --pin-file" || fail "the refusal does not say how to give the PIN"
	run "$T" keydesk key register bob --name fido2-pin --resident --pin-file "$PIN1"
	expect_ok "key register over CTAP2 with the PIN, resident" "CTAP2, for example.edu, resident, PIN verified"
	run "$T" keydesk key test bob
	expect_ok "key test of the resident credential" "\"fido2-pin\" of bob works"
	run "$T" keydesk key creds list --pin-file "$PIN1"
	expect_ok "key creds list shows the resident credential" "example.edu +bob +bob"
	expect_ok "key creds list names its registration" "\"fido2-pin\" of bob \(active\)"
	run "$T" keydesk key pin change --pin-file "$PIN1" --new-pin-file "$PIN2"
	expect_ok "key pin change" "is changed"
	run "$T" keydesk key pin change --pin-file "$PIN1" --new-pin-file "$PIN2"
	expect_refused "key pin change with the old PIN"
	output_has "the PIN is wrong: 7 tries left" || fail "key pin change with the old PIN: tries left not shown"
	run "$T" keydesk key creds list --pin-file "$PIN2"
	expect_ok "key creds list with the new PIN" "1 resident credential on the key"
	run "$T" keydesk key select
	expect_ok "key select: the key touched" "the key touched is at $HIDRAW"
	run "$T" keydesk key info --device touch
	expect_ok "key info --device touch" "AAGUID"
	run "$T" keydesk key config always-uv --pin-file "$PIN2"
	expect_ok "key config always-uv on" "always-uv of the key at $HIDRAW is on"
	run "$T" keydesk key config always-uv --pin-file "$PIN2"
	expect_ok "key config always-uv off" "always-uv of the key at $HIDRAW is off"
	# The PIN (5 digits) is then shorter than the key's minimum: the key
	# wants a new one before anything else, which the reset below clears.
	run "$T" keydesk key config min-pin-length 6 --pin-file "$PIN2"
	expect_ok "key config min-pin-length 6" "PINs of 6 characters or more"
	run "$T" keydesk key config min-pin-length 4 --pin-file "$PIN2"
	expect_refused "key config min-pin-length lowered"

	run "$T" keydesk key reset --yes
	expect_ok "key reset within the key's window" "removed: key #[0-9]+ \"fido2-pin\" of bob"
	run "$T" keydesk key info
	expect_ok "key info after the reset: no PIN" "PIN: +not set"
	run "$T" keydesk key test bob
	expect_denied "key test of a reset key"
	softkey_stop "fido2"

	section "keydesk: a reset after the key's window"
	SK_STATE=/tmp/sk-late.state
	if softkey_start --reset-window 1ms; then
		run "$T" keydesk key reset --yes
		expect_refused "key reset after the window"
		output_has "within seconds of being plugged in" || fail "key reset after the window: no explanation"
		softkey_stop "late reset"
	else
		fail "keydesk softkey --reset-window 1ms did not start"
	fi

	section "keydesk: a U2F-only key"
	SK_STATE=/tmp/sk-u2f.state
	if softkey_start --protocols u2f; then
		run "$T" keydesk key info
		expect_ok "key info: U2F only" "protocols: +U2F$"
		run "$T" keydesk key register carol --name u2f-key
		expect_ok "key register of a U2F-only key under the AppID" "credential: +U2F, under the AppID https://example.edu"
		run "$T" keydesk key test carol
		expect_ok "key test of the U2F-only key" "\"u2f-key\" of carol works"
		softkey_stop "u2f only"
	else
		fail "keydesk softkey --protocols u2f did not start"
	fi
}
