package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

var errNotInstalled = errors.New(installMsg)

// dirPrefix names the temporary folders of clusters, so that one left by a
// test binary that died can be found and removed (see sweep).
const dirPrefix = "keydesk-pgtest-"

// settings are for tests, not for keeping data:
//   - fsync off: no flush to disk, which makes initdb, CREATE DATABASE and
//     every commit fast. Only a crash of the machine loses data, and the
//     cluster is thrown away anyway.
//   - synchronous_commit stays on: a commit is written to the kernel
//     before the client hears of it, so a committed row survives Kill as
//     it would survive a crash of a real server.
//   - full_page_writes stays on: Kill may stop a write of an 8 KiB page
//     half way, and recovery needs the page image to repair it.
//   - deadlock_timeout 100ms rather than 1s, so a test of a deadlock
//     does not wait long for PostgreSQL to find it.
//   - no TLS: clients connect with sslmode=disable on loopback.
const settings = `
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = on
full_page_writes = on
max_connections = 200
shared_buffers = 32MB
jit = off
deadlock_timeout = 100ms
timezone = 'UTC'
log_timezone = 'UTC'
lc_messages = 'C'
ssl = off
logging_collector = off
log_min_messages = warning
log_checkpoints = off
`

// WAL segments of 1 MiB rather than 16 keep a cluster at some 25 MiB.
var initdbArgs = []string{"-U", superuser, "-A", "trust", "-E", "UTF8", "--locale=C", "--wal-segsize=1",
	"--no-sync", "--no-instructions"}

// Password authentication on 127.0.0.1 as in production; trust on the
// socket, which only the owner of the temporary folder can reach.
const hba = `local all all trust
host all all 127.0.0.1/32 scram-sha-256
`

// server is one cluster's files and its postmaster process.
type server struct {
	bin     string // folder of initdb and postgres
	dir     string // the temporary folder; data/ and sock/ are in it
	data    string
	sockDir string
	port    int
	cred    *syscall.Credential // the postgres user's, when run as root
	lock    *os.File            // flocked while this process uses dir

	initdbTook time.Duration // for BenchmarkStart

	mu   sync.Mutex
	proc *process // nil while stopped
	log  logBuffer
}

// process is a running postmaster.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func newServer() (*server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	s := &server{bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root; Debian's package makes a
		// system user for it.
		if s.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	sweep()
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := s.initdb(); err != nil {
		s.remove()
		return nil, err
	}
	s.initdbTook = time.Since(t0)
	// A port taken between the probe and postgres's bind makes postgres
	// exit at once; a fresh port is tried then.
	for range 3 {
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	s.remove()
	return nil, err
}

// findBinaries finds the newest PostgreSQL's programs: Debian keeps them
// in /usr/lib/postgresql/VERSION/bin, off PATH; other systems put initdb
// on PATH.
func findBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errNotInstalled
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs the system user postgres, which the postgresql package makes: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// makeDir makes the temporary folder, owned by the user postgres runs as:
// t.TempDir's folders are the test's, mode 0700, out of its reach. A short
// path also keeps the socket's within the 107 bytes a unix address holds.
func (s *server) makeDir() error {
	dir, err := os.MkdirTemp(baseDir(), dirPrefix)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	s.dir, s.data, s.sockDir = dir, filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	if s.lock, err = lockDir(dir); err != nil {
		os.RemoveAll(dir)
		return err
	}
	if err := os.Mkdir(s.sockDir, 0o700); err != nil {
		s.remove()
		return fmt.Errorf("pgtest: %w", err)
	}
	if s.cred != nil {
		for _, d := range []string{dir, s.sockDir} {
			if err := os.Chown(d, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				s.remove()
				return fmt.Errorf("pgtest: %w", err)
			}
		}
	}
	return nil
}

// shm is Linux's memory file system. A cluster there starts several times
// faster than on a virtual disk (initdb 0.4s rather than 1 to 4s here),
// as file creation is most of initdb's work; but Docker gives it only 64
// MiB by default, which a cluster and a few databases would fill.
const (
	shm        = "/dev/shm"
	minShmFree = 1 << 30
)

func baseDir() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(shm, &st); err == nil && st.Bavail*uint64(st.Bsize) >= minShmFree && syscall.Access(shm, 2) == nil {
		return shm
	}
	return os.TempDir()
}

func (s *server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	// The locale of the tests is C, whatever the machine's: messages in
	// English, and lower() and ORDER BY on bytes, as keydesk asks for
	// with COLLATE "C" anyway.
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	return cmd
}

func (s *server) initdb() error {
	cmd := s.command("initdb", append([]string{"-D", s.data}, initdbArgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	conf := filepath.Join(s.data, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, err = f.WriteString(settings)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The file is the postgres user's; writing it as root keeps
		// its owner.
		err = os.WriteFile(filepath.Join(s.data, "pg_hba.conf"), []byte(hba), 0o600)
	}
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

func (s *server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// start starts the postmaster and waits until it accepts connections.
func (s *server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return nil
	}
	cmd := s.command("postgres", "-D", s.data, "-k", s.sockDir, "-p", strconv.Itoa(s.port), "-h", "127.0.0.1")
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	// SIGQUIT (immediate shutdown) should this process die without
	// cleaning up, so that no postgres outlives the tests.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	p := &process{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal is sent when the thread that forked
		// ends, not the process (go.dev/issue/27505): this thread is kept
		// for as long as postgres runs, and ends with this goroutine.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(p.exited)
			return
		}
		started <- nil
		cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgtest: postgres: %w", err)
	}
	if err := s.waitReady(p); err != nil {
		p.killAll()
		return err
	}
	s.proc = p
	return nil
}

// waitReady waits until postgres answers on its socket: it refuses
// connections with SQLSTATE 57P03 while it starts or recovers.
func (s *server) waitReady(p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres connect_timeout=5", s.sockDir, s.port, superuser)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("pgtest: postgres exited at start (%v); the port may have been taken:\n%s", p.cmd.ProcessState, s.log.tail())
		default:
		}
		conn, err := pgconn.Connect(ctx, dsn)
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("pgtest: postgres did not accept connections within 60s: %v\n%s", err, s.log.tail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop asks for a fast shutdown (SIGINT): sessions are ended, the
// checkpoint is written, the postmaster exits.
func (s *server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
		return nil
	case <-time.After(30 * time.Second):
		p.killAll()
		return fmt.Errorf("pgtest: postgres did not stop on SIGINT within 30s; killed:\n%s", s.log.tail())
	}
}

func (s *server) kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.killAll()
		s.proc = nil
	}
	return nil
}

// killAll kills the postmaster and its backends at once, and waits for
// the postmaster. Killing the process group is not enough: each backend
// calls setsid, and one that outlived its postmaster would say goodbye
// (57P01 "unexpected postmaster exit"), which a crashed machine does not.
// The postmaster is stopped first so that it forks no more while its
// children are listed.
func (p *process) killAll() {
	pid := p.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGSTOP)
	for _, child := range children(pid) {
		syscall.Kill(child, syscall.SIGKILL)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	<-p.exited
}

// children lists the processes whose parent is pid, from /proc.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(child); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// procStat is the fields of /proc/PID/stat after the command's name:
// state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
// utime stime …; nil when the process is gone. The name may hold spaces
// and parentheses, so the fields start after its last ")".
func procStat(pid int) []string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}

// restart starts the server again on its port. After a kill, a new
// postmaster refuses to start while a killed backend still holds the old
// shared memory ("pre-existing shared memory block is still in use"); the
// backends go within moments, so the start is tried again for a while.
func (s *server) restart() error {
	if err := s.stop(); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mark := s.log.written()
		err := s.start()
		if err == nil || time.Now().After(deadline) || !strings.Contains(s.log.since(mark), "is still in use") {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// remove stops the server at once and removes its files.
func (s *server) remove() error {
	s.kill()
	err := os.RemoveAll(s.dir)
	if s.lock != nil {
		s.lock.Close()
	}
	if err != nil {
		return fmt.Errorf("pgtest: removing the cluster: %w", err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *server) logTail() string { return s.log.tail() }

// logBuffer keeps the end of the server's log, for failure messages.
type logBuffer struct {
	mu    sync.Mutex
	buf   []byte
	total int // bytes ever written
}

const maxLog = 16 << 10

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	b.total += len(p)
	if len(b.buf) > 2*maxLog {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-maxLog:]...)
	}
	return len(p), nil
}

func (b *logBuffer) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) > maxLog {
		return string(b.buf[len(b.buf)-maxLog:])
	}
	return string(b.buf)
}

func (b *logBuffer) written() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// since is what was written after mark, as far as it is kept.
func (b *logBuffer) since(mark int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(b.total-mark, len(b.buf))
	return string(b.buf[len(b.buf)-n:])
}

// cpu is the CPU time the postmaster and its processes alive now have
// used: user and system, from /proc (clock ticks of 1/100 s, as Linux
// reports them to /proc on every architecture Debian builds for).
func (s *server) cpu() time.Duration {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return 0
	}
	pid := p.cmd.Process.Pid
	var ticks int64
	for _, id := range append(children(pid), pid) {
		if f := procStat(id); len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + st
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
