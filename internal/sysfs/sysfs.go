// Package sysfs reads the small attribute files Linux's sysfs holds, with
// a cap on what one file may make keydesk read.
package sysfs

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ReadCapped reads a file of at most max bytes; a longer one is an error.
func ReadCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: longer than %d bytes", path, max)
	}
	return b, nil
}

// ReadInt reads a file holding one integer in the given base.
func ReadInt(path string, base int) (int, error) {
	b, err := ReadCapped(path, 64)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), base, 32)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return int(n), nil
}
