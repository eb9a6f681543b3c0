# gadget.sh: make the security key. A configfs gadget with one HID function
# (Documentation/usb/gadget_configfs.rst, Documentation/usb/gadget_hid.rst)
# bound to dummy_hcd's device-side controller, which its host-side
# controller (bus 1 in this guest) then enumerates like a plugged-in key.

section "gadget"
G=/sys/kernel/config/usb_gadget/keydesk
FIDO_DESC=/tmp/fido-report.desc

# The FIDO HID report descriptor (CTAP 2.1 §11.2.8.1 and FIDO U2F HID
# Protocol §5.1): usage page 0xF1D0, usage 0x01 (CTAPHID), 64-byte input
# report (usage 0x20) and 64-byte output report (usage 0x21), no report IDs.
# Clients find keys by that usage page, so this is what makes the gadget a
# security key to them.
for b in \
	06 D0 F1 \
	09 01 \
	A1 01 \
	09 20 15 00 26 FF 00 75 08 95 40 81 02 \
	09 21 15 00 26 FF 00 75 08 95 40 91 02 \
	C0; do
	# shellcheck disable=SC2059 # the format is the byte, as an octal escape
	printf "\\$(printf %03o "0x$b")"
done >"$FIDO_DESC"

gadget() {
	mkdir "$G" &&
		echo "$LAB_VID" >"$G/idVendor" &&
		echo "$LAB_PID" >"$G/idProduct" &&
		echo 0x0100 >"$G/bcdDevice" &&
		echo 0x0200 >"$G/bcdUSB" &&
		mkdir "$G/strings/0x409" &&
		echo "keydesk lab" >"$G/strings/0x409/manufacturer" &&
		echo "keydesk softkey" >"$G/strings/0x409/product" &&
		echo "LAB0001" >"$G/strings/0x409/serialnumber" &&
		mkdir "$G/functions/hid.fido" &&
		echo 0 >"$G/functions/hid.fido/protocol" &&
		echo 0 >"$G/functions/hid.fido/subclass" &&
		echo 64 >"$G/functions/hid.fido/report_length" &&
		cat "$FIDO_DESC" >"$G/functions/hid.fido/report_desc" &&
		mkdir "$G/configs/c.1" &&
		mkdir "$G/configs/c.1/strings/0x409" &&
		echo "FIDO" >"$G/configs/c.1/strings/0x409/configuration" &&
		echo 100 >"$G/configs/c.1/MaxPower" &&
		ln -s "$G/functions/hid.fido" "$G/configs/c.1/" &&
		echo dummy_udc.0 >"$G/UDC"
}

if gadget; then
	pass "gadget $LAB_VID:$LAB_PID bound to $(cat "$G/UDC")"
else
	fail "gadget setup (configfs) failed"
fi
echo "udc: $(ls /sys/class/udc 2>/dev/null)"
