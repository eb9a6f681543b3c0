// Command hidecho proves the USB lab's plumbing: it sends 64-byte reports
// from the host side of a HID gadget (/dev/hidrawN) to its device side
// (/dev/hidgN) and back, and checks every byte arrived.
//
// Usage: hidecho [-host /dev/hidraw0] [-device /dev/hidg0] [-n 100] [-timeout 5s]
//
// It exits 0 when every report crossed intact, 1 otherwise.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	host := flag.String("host", "/dev/hidraw0", "host side: the key's hidraw node")
	device := flag.String("device", "/dev/hidg0", "device side: the gadget's hidg node")
	n := flag.Int("n", 100, "round trips")
	timeout := flag.Duration("timeout", 5*time.Second, "limit for each report to arrive")
	flag.Parse()
	if err := run(*host, *device, *n, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "hidecho: %v\n", err)
		os.Exit(1)
	}
}

func run(hostPath, devicePath string, n int, timeout time.Duration) error {
	host, err := os.OpenFile(hostPath, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer host.Close()
	device, err := os.OpenFile(devicePath, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer device.Close()
	e := echo{host: host, device: device, timeout: timeout, now: time.Now}
	st, err := e.run(n)
	if err != nil {
		return err
	}
	fmt.Printf("%d round trips of %d-byte reports intact (host->device->host); "+
		"per round trip: mean %v, max %v\n", st.n, reportLen, st.mean(), st.max)
	return nil
}
