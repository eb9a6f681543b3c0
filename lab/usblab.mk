# usblab.mk: the USB lab's targets, for the top Makefile to include
# (`include lab/usblab.mk`). See lab/README.md.
#
#   make usblab            all checks: lab plumbing, then keydesk (builds ./cmd/keydesk)
#   make usblab-plumbing   the lab alone: gadget, hidraw, libusb, raw round trip
#   make usblab-selftest   the lab's keydesk checks against lab/testdata/fake-keydesk
#   make usblab-shell      an interactive guest with the key made (no checks)
#   make usblab-clean      remove lab/out (kernel, initramfs, binaries, logs)
#
# Settings pass through the environment: LAB_TIMEOUT, LAB_CMD_TIMEOUT,
# LAB_KEYDESK, LAB_KERNEL, LAB_ACCEL, LAB_SMP, LAB_VID, LAB_PID (lab/run.sh).

USBLAB_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: usblab usblab-plumbing usblab-selftest usblab-shell usblab-clean

usblab:
	$(USBLAB_DIR)/run.sh

usblab-plumbing:
	LAB_CHECKS=plumbing $(USBLAB_DIR)/run.sh

usblab-selftest:
	LAB_KEYDESK=$(USBLAB_DIR)/testdata/fake-keydesk $(USBLAB_DIR)/run.sh

usblab-shell:
	LAB_CHECKS=shell $(USBLAB_DIR)/run.sh

usblab-clean:
	rm -rf $(USBLAB_DIR)/out
