# plumbing.sh: the lab's own checks, independent of keydesk. Proves that the
# guest holds both sides of one key: the device side (/dev/hidg0), the host's
# HID view (/dev/hidraw*) and its libusb view (/dev/bus/usb), and that
# 64-byte reports cross between them both ways.

section "plumbing"
VIDHEX=$(echo "${LAB_VID#0x}" | tr A-F a-f)
PIDHEX=$(echo "${LAB_PID#0x}" | tr A-F a-f)

if wait_for /dev/hidg0 10; then
	pass "device side: $(ls -l /dev/hidg0)"
else
	fail "no /dev/hidg0 after 10s"
fi

# The host side appears once dummy_hcd's root hub has enumerated the gadget
# and usbhid has bound to it; under TCG that takes a moment.
USBDEV=""
n=200
while [ -z "$USBDEV" ] && [ $n -gt 0 ]; do
	for d in /sys/bus/usb/devices/*; do
		[ "$(cat "$d/idVendor" 2>/dev/null)" = "$VIDHEX" ] &&
			[ "$(cat "$d/idProduct" 2>/dev/null)" = "$PIDHEX" ] && USBDEV=$d
	done
	[ -z "$USBDEV" ] && usleep 100000
	n=$((n - 1))
done
if [ -n "$USBDEV" ]; then
	BUSNUM=$(printf %03d "$(cat "$USBDEV/busnum")")
	DEVNUM=$(printf %03d "$(cat "$USBDEV/devnum")")
	pass "host enumerated $VIDHEX:$PIDHEX at $USBDEV: bus $BUSNUM device $DEVNUM," \
		"manufacturer \"$(cat "$USBDEV/manufacturer")\" product \"$(cat "$USBDEV/product")\" serial \"$(cat "$USBDEV/serial")\""
	if wait_for "/dev/bus/usb/$BUSNUM/$DEVNUM" 5; then
		pass "libusb node: $(ls -l "/dev/bus/usb/$BUSNUM/$DEVNUM")"
	else
		fail "no /dev/bus/usb/$BUSNUM/$DEVNUM"
	fi
else
	fail "host side never enumerated $VIDHEX:$PIDHEX (20s)"
fi
echo "/dev/bus/usb: $(find /dev/bus/usb -type c 2>/dev/null | sort | tr '\n' ' ')"

# Find the hidraw node of this key by its HID_ID (bus 0003 is USB).
HIDRAW=""
want=$(printf '0003:%08X:%08X' "0x$VIDHEX" "0x$PIDHEX")
n=100
while [ -z "$HIDRAW" ] && [ $n -gt 0 ]; do
	for h in /sys/class/hidraw/hidraw*; do
		grep -qi "^HID_ID=$want\$" "$h/device/uevent" 2>/dev/null && HIDRAW=/dev/${h##*/}
	done
	[ -z "$HIDRAW" ] && usleep 100000
	n=$((n - 1))
done
if [ -n "$HIDRAW" ] && wait_for "$HIDRAW" 5; then
	pass "host HID side: $(ls -l "$HIDRAW") ($(grep ^HID_NAME= "/sys/class/hidraw/${HIDRAW##*/}/device/uevent"))"
	rdesc=/sys/class/hidraw/${HIDRAW##*/}/device/report_descriptor
	if cmp -s "$rdesc" "$FIDO_DESC"; then
		pass "host reads the FIDO report descriptor: $(hexdump -v -e '/1 "%02x "' "$rdesc")"
	else
		fail "report descriptor differs: $(hexdump -v -e '/1 "%02x "' "$rdesc" 2>&1)"
	fi
else
	fail "no hidraw node with HID_ID $want"
fi

if [ -n "$HIDRAW" ] && [ -e /dev/hidg0 ]; then
	run 60 hidecho -host "$HIDRAW" -device /dev/hidg0 -n 200
	if [ "$RC" = 0 ]; then
		pass "raw 64-byte reports cross both ways ($HIDRAW <-> /dev/hidg0)"
	else
		fail "raw round trip $HIDRAW <-> /dev/hidg0"
	fi
fi

run 60 usbprobe -vid "$VIDHEX" -pid "$PIDHEX"
if [ "$RC" = 0 ] && stdout_has "id $VIDHEX:$PIDHEX .*manufacturer \"keydesk lab\" product \"keydesk softkey\" serial \"LAB0001\""; then
	pass "libusb opens the key and reads its strings"
else
	fail "libusb view of $VIDHEX:$PIDHEX"
fi

echo "kernel log (usb, hid):"
dmesg | grep -iE 'usb|hid|gadget|udc' | sed 's/^/  /'
