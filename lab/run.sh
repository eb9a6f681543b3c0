#!/usr/bin/env bash
# run.sh: the USB lab. Boots a Debian kernel in QEMU whose own dummy_hcd
# controller hosts a configfs HID gadget with the FIDO report descriptor, so
# the guest has both sides of one security key (/dev/hidg0 for the device,
# /dev/hidraw0 and /dev/bus/usb for the host), and runs the checks in
# lab/guest/ against it. Exits 0 only if the guest reports no failure.
#
# Everything it fetches or builds lives in lab/out/ and is reused on reruns.
# Settings (environment):
#   LAB_CHECKS   all (default) | plumbing (lab only, no keydesk) | shell
#                (interactive guest shell, no timeout; leave with poweroff -f)
#   LAB_TIMEOUT  hard limit for the whole boot, seconds (default 300)
#   LAB_CMD_TIMEOUT  per-command limit inside the guest, seconds (default 30)
#   LAB_KEYDESK  a keydesk to test instead of building ./cmd/keydesk (a path;
#                lab/testdata/fake-keydesk tests the lab's own scripts)
#   LAB_KERNEL   Debian kernel package to boot (default: what linux-image-amd64
#                depends on today)
#   LAB_ACCEL    QEMU accelerator (default tcg); LAB_CPU its -cpu (default max).
#                Untried with KVM: on the machine this was written on, /dev/kvm
#                exists but QEMU fails at start ("failed to set MSR 0x10a").
#   LAB_SMP      guest CPUs (default 2)
#   LAB_VID, LAB_PID  gadget id (default 0x1209:0x0001, the pid.codes test id)
set -euo pipefail

LAB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$LAB")
OUT=$LAB/out
CHECKS=${LAB_CHECKS:-all}
TIMEOUT=${LAB_TIMEOUT:-300}
CMD_TIMEOUT=${LAB_CMD_TIMEOUT:-30}
ACCEL=${LAB_ACCEL:-tcg}
SMP=${LAB_SMP:-2}
VID=${LAB_VID:-0x1209}
PID=${LAB_PID:-0x0001}
if [[ -n ${LAB_KEYDESK:-} ]]; then
	LAB_KEYDESK=$(realpath -e "$LAB_KEYDESK") || { echo "usblab: LAB_KEYDESK: no such file" >&2; exit 1; }
fi

# Host packages: the emulator, the guest's userland, what cgo needs to
# build keydesk against libusb, and Debian's libfido2 tools, an independent
# FIDO2 host the guest checks the soft key with.
HOST_PKGS=(qemu-system-x86 busybox-static cpio gcc libc6-dev pkg-config libusb-1.0-0-dev fido2-tools)

# Modules the guest loads; their dependencies come from modules.dep.
MODULES=(usb-common usbcore hid usbhid hid-generic configfs udc-core libcomposite usb_f_hid dummy_hcd)

START=$SECONDS
step() { printf '==> [%3ds] %s\n' "$((SECONDS - START))" "$*"; }
die() { printf 'usblab: %s\n' "$*" >&2; exit 1; }

case $CHECKS in all | plumbing | shell) ;; *) die "LAB_CHECKS must be all, plumbing or shell, not ${CHECKS@Q}" ;; esac

install_host_packages() {
	local missing=() p
	for p in "${HOST_PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		step "host packages present: ${HOST_PKGS[*]}"
		return
	fi
	[[ $(id -u) == 0 ]] || die "missing host packages (${missing[*]}); run as root or: sudo apt-get install -y ${missing[*]}"
	step "installing host packages: ${missing[*]}"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# resolve_kernel prints the kernel package to boot: LAB_KERNEL, or the one
# the linux-image-amd64 metapackage depends on (asking apt-get update once if
# apt has no lists yet).
resolve_kernel() {
	if [[ -n ${LAB_KERNEL:-} ]]; then
		echo "$LAB_KERNEL"
		return
	fi
	local pkg
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	if [[ -z $pkg && $(id -u) == 0 ]]; then
		apt-get update -q >&2
		pkg=$(apt-cache depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	fi
	[[ -n $pkg ]] || die "cannot resolve the kernel from linux-image-amd64; set LAB_KERNEL=linux-image-<version>-amd64"
	echo "$pkg"
}

# fetch_kernel unpacks the kernel package into $OUT/kernel/$pkg (never into
# the host's /boot) and runs depmod there, since modules.dep is made by the
# package's postinst, not shipped.
fetch_kernel() {
	local pkg=$1 dir=$OUT/kernel/$1
	if [[ -f $dir/.done ]]; then
		step "kernel cached: $dir"
		return
	fi
	mkdir -p "$OUT/dl"
	step "downloading $pkg"
	(cd "$OUT/dl" && rm -f "${pkg}"_*.deb && apt-get download -q -o APT::Sandbox::User=root "$pkg")
	step "unpacking $pkg into $dir"
	rm -rf "$dir" && mkdir -p "$dir"
	dpkg-deb -x "$OUT/dl/${pkg}"_*.deb "$dir"
	local kver
	kver=$(ls "$dir/lib/modules")
	step "depmod $kver"
	busybox depmod -b "$dir" "$kver"
	touch "$dir/.done"
}

# build_programs builds the guest's programs into $OUT/bin. A missing or
# broken cmd/keydesk is not fatal here: the guest then reports the keydesk
# checks as failed, and the lab's own plumbing checks still run.
build_programs() {
	mkdir -p "$OUT/bin"
	rm -f "$OUT/bin/keydesk"
	cd "$ROOT"
	step "go build ./lab/cmd/hidecho (static)"
	CGO_ENABLED=0 go build -trimpath -o "$OUT/bin/hidecho" ./lab/cmd/hidecho
	step "go build ./lab/cmd/usbprobe (cgo, libusb)"
	CGO_ENABLED=1 go build -trimpath -o "$OUT/bin/usbprobe" ./lab/cmd/usbprobe
	[[ $CHECKS == plumbing ]] && return
	if [[ -n ${LAB_KEYDESK:-} ]]; then
		step "using LAB_KEYDESK=$LAB_KEYDESK instead of building cmd/keydesk"
		install -m 0755 "$LAB_KEYDESK" "$OUT/bin/keydesk"
		return
	fi
	if [[ ! -d cmd/keydesk ]]; then
		step "cmd/keydesk does not exist yet: the guest will report the keydesk checks as failed"
		return
	fi
	step "go build ./cmd/keydesk (cgo: sqlite, libusb)"
	if ! CGO_ENABLED=1 go build -trimpath -o "$OUT/bin/keydesk" ./cmd/keydesk; then
		rm -f "$OUT/bin/keydesk"
		step "keydesk did not build: the guest will report the keydesk checks as failed"
	fi
}

# copy_with_libs copies a program into the initramfs with every shared
# library ldd names, and the dynamic loader, at the same paths.
copy_with_libs() {
	local prog=$1 dest=$2 root=$3 lib
	install -D -m 0755 "$prog" "$root$dest"
	{ ldd "$prog" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
		while read -r lib; do
			[[ -e $root$lib ]] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
		done
}

# module_order prints the module files to insmod, dependencies first.
module_order() {
	local dep=$1/modules.dep name
	declare -A seen=()
	visit() {
		local path=$1 d
		[[ -n ${seen[$path]:-} ]] && return
		seen[$path]=1
		# shellcheck disable=SC2013 # modules.dep paths hold no spaces
		for d in $(awk -v p="$path:" '$1 == p { $1 = ""; print }' "$dep"); do
			visit "$d"
		done
		echo "$path"
	}
	for name in "${MODULES[@]}"; do
		local path
		path=$(awk -F: -v n="$name" '{ f = $1; sub(".*/", "", f); sub("\\.ko(\\.[a-z]+)?$", "", f); gsub("_", "-", f); m = n; gsub("_", "-", m); if (f == m) { print $1; exit } }' "$dep")
		[[ -n $path ]] || die "module $name not in $dep (built into this kernel?)"
		visit "$path"
	done
}

build_initramfs() {
	local kdir=$1 kver=$2 root=$OUT/initramfs
	step "assembling initramfs in $root"
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,root,etc/lab,lib/modules,lab}
	install -m 0755 "$(command -v busybox)" "$root/bin/busybox"
	local applet
	for applet in $(busybox --list); do
		[[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
	done
	# /usr/bin holds the lab's programs and keydesk; the loader looks for
	# libraries where ldd found them.
	copy_with_libs "$OUT/bin/hidecho" /usr/bin/hidecho "$root"
	copy_with_libs "$OUT/bin/usbprobe" /usr/bin/usbprobe "$root"
	[[ -f $OUT/bin/keydesk ]] && copy_with_libs "$OUT/bin/keydesk" /usr/bin/keydesk "$root"
	# libfido2's tools, as the host's Debian ships them (fido2-tools).
	local tool
	for tool in fido2-token fido2-cred fido2-assert; do
		if command -v "$tool" >/dev/null; then
			copy_with_libs "$(command -v "$tool")" "/usr/bin/$tool" "$root"
		fi
	done

	local m f mods order=()
	mods=$(module_order "$kdir/lib/modules/$kver")
	for m in $mods; do
		f=$(basename "$m")
		case $f in
		*.ko) cp "$kdir/lib/modules/$kver/$m" "$root/lib/modules/$f" ;;
		*.ko.xz) xz -dc "$kdir/lib/modules/$kver/$m" >"$root/lib/modules/${f%.xz}" && f=${f%.xz} ;;
		*.ko.zst) zstd -qdc "$kdir/lib/modules/$kver/$m" >"$root/lib/modules/${f%.zst}" && f=${f%.zst} ;;
		*) die "unknown module file $m" ;;
		esac
		order+=("$f")
	done
	printf '%s\n' "${order[@]}" >"$root/etc/lab/modules"
	step "modules, in load order: ${order[*]}"

	install -m 0755 "$LAB/guest/init" "$root/init"
	install -m 0644 "$LAB"/guest/*.sh "$root/lab/"
	cat >"$root/etc/lab/config" <<-EOF
		LAB_CHECKS=$CHECKS
		LAB_CMD_TIMEOUT=$CMD_TIMEOUT
		LAB_VID=$VID
		LAB_PID=$PID
		LAB_KERNEL_PKG=$3
	EOF
	(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$OUT/initrd.cpio"
	step "initramfs: $OUT/initrd.cpio ($(du -h "$OUT/initrd.cpio" | cut -f1))"
}

boot() {
	local kernel=$1 log=$OUT/guest.log rc
	local qemu=(qemu-system-x86_64 -nographic -no-reboot -m 1G -smp "$SMP" -accel "$ACCEL" -cpu "${LAB_CPU:-max}"
		-nic none -kernel "$kernel" -initrd "$OUT/initrd.cpio"
		-append "console=ttyS0 quiet panic=-1 random.trust_cpu=on")
	if [[ $CHECKS == shell ]]; then
		step "booting an interactive guest (leave with: poweroff -f)"
		"${qemu[@]}"
		return
	fi
	step "booting: ${qemu[*]} (limit ${TIMEOUT}s)"
	set +e
	timeout --foreground -k 5 "$TIMEOUT" "${qemu[@]}" </dev/null 2>&1 |
		sed -u 's/\r$//; s/\x1bc//g; s/\x1b\[[0-9;?]*[A-Za-z]//g' | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	step "guest output saved in $log"
	if ((rc == 124 || rc == 137)); then
		die "guest timed out after ${TIMEOUT}s"
	fi
	((rc == 0)) || die "qemu exited with status $rc"
	local summary
	summary=$(grep -E '^USBLAB: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1) || die "the guest printed no USBLAB summary (crashed or powered off early)"
	step "$summary"
	[[ $summary =~ ,\ 0\ failed ]] || exit 1
}

mkdir -p "$OUT"
install_host_packages
KPKG=$(resolve_kernel)
step "kernel package: $KPKG"
fetch_kernel "$KPKG"
KDIR=$OUT/kernel/$KPKG
KVER=$(ls "$KDIR/lib/modules")
build_programs
build_initramfs "$KDIR" "$KVER" "$KPKG"
boot "$KDIR/boot/vmlinuz-$KVER"
step "done"
