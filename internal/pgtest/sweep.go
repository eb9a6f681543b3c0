package pgtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A test binary killed by its -timeout runs no cleanup: its postgres dies
// of the parent-death signal, but its folder (some 40 MB) stays. Each
// folder holds a lock its binary keeps while it lives, so the next binary
// can tell a left-over folder from one in use and remove it.

const lockName = "owner.lock"

// lockDir takes the lock of a new cluster folder; the kernel lets it go
// when this process ends, however it ends.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("pgtest: locking %s: %w", dir, err)
	}
	return f, nil
}

// sweep removes the cluster folders whose binary is gone. A folder with
// no lock file yet may be one another binary is making this moment; it is
// left alone unless it is old.
func sweep() {
	var dirs []string
	for _, base := range []string{shm, os.TempDir()} {
		found, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
		dirs = append(dirs, found...)
	}
	for _, dir := range dirs {
		f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(dir)
			}
			continue
		}
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			stopLeftover(filepath.Join(dir, "data"))
			os.RemoveAll(dir)
		}
		f.Close()
	}
}

// stopLeftover stops a postgres that outlived its test binary (had the
// parent-death signal not reached it), if the pid in its postmaster.pid is
// still a postgres of that data folder.
func stopLeftover(data string) {
	f, err := os.Open(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	if err != nil || pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), data) {
		return
	}
	// Immediate shutdown: the postmaster takes its backends with it.
	syscall.Kill(pid, syscall.SIGQUIT)
}
