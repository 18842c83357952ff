package devservices

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	healthTimeout = 30 * time.Second // a server that has started must answer within this
	stopGrace     = 10 * time.Second // between the polite signal and SIGKILL
	startAttempts = 3                // a free port can be taken between choosing it and binding it
)

var (
	errExited     = errors.New("process exited")
	errNotHealthy = errors.New("no healthy answer")
)

// kind is what is known about a service without any Options: enough to find, recognise and
// stop a recorded instance.
type kind struct {
	name       string         // for people: "MinIO"
	key        string         // Root/.data/<key>/ and Root/.data/<key>.lock
	command    string         // executable base name; a recorded pid is only signalled if it still runs this
	stopSignal syscall.Signal // the polite one
}

func postgresKind() kind { return kind{"PostgreSQL", "postgres", "postgres", syscall.SIGINT} } // SIGINT: fast shutdown
func redisKind() kind    { return kind{"Redis", "redis", "redis-server", syscall.SIGTERM} }
func minioKind() kind    { return kind{"MinIO", "minio", "minio", syscall.SIGTERM} }
func stripeKind() kind   { return kind{"stripe-mock", "stripe-mock", "stripe-mock", syscall.SIGTERM} }

func allServices() []kind { return []kind{stripeKind(), minioKind(), redisKind(), postgresKind()} }

// service is how one Ensure finds, starts and checks one kind.
type service struct {
	kind
	ports     []string       // names of the ports to allocate; the first is the one people connect to
	preferred map[string]int // well-known ports, used when free
	healthy   func(ctx context.Context, ports map[string]int) error
	discover  func() *state                   // optional: an instance running without a state file
	prepare   func(ctx context.Context) error // find or build binaries, initialise data; before a start
	launch    func(ctx context.Context, ports map[string]int, detached bool) (*process, error)
}

// state is Root/.data/<key>/state.json: the instance that serves this root.
type state struct {
	PID       int            `json:"pid"`
	Ports     map[string]int `json:"ports"`
	StartedAt time.Time      `json:"started_at"`
	Detached  bool           `json:"detached"`
	OwnerPID  int            `json:"owner_pid,omitempty"` // the process whose Stop stops it, when not detached
	Command   string         `json:"command"`
}

// process is a running server.
type process struct {
	pid    int
	exited <-chan struct{} // closed when it exits if it is our child; nil otherwise
	log    string
}

func (p *process) gone() bool {
	if p.exited != nil {
		select {
		case <-p.exited:
			return true
		default:
			return false
		}
	}
	return !running(p.pid)
}

// owned is an instance that Services.Stop must stop.
type owned struct {
	kind      kind
	proc      *process
	statePath string
}

func (o *owned) stop(log *slog.Logger) error {
	err := terminate(o.proc, o.kind.stopSignal)
	if err != nil {
		return fmt.Errorf("devservices: stop %s (pid %d): %w", o.kind.name, o.proc.pid, err)
	}
	removeStateOf(o.statePath, o.proc.pid)
	log.Info("stopped "+o.kind.name, "pid", o.proc.pid)
	return nil
}

// ensureService reuses the instance recorded for this root if it answers, and otherwise starts
// one, all under the service's file lock so that concurrent callers (parallel test packages)
// end up with one instance.
func (s *Services) ensureService(ctx context.Context, o Options, svc service) (map[string]int, error) {
	dir := o.dataDir(svc.key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devservices: %s: %w", svc.name, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(o.Root, ".data", svc.key+".lock"), svc.name, o.Log)
	if err != nil {
		return nil, err
	}
	defer unlock()

	statePath := filepath.Join(dir, "state.json")
	if ports, ok := s.reuse(ctx, o, svc, statePath); ok {
		return ports, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("devservices: %s: %w", svc.name, err)
	}
	if err := svc.prepare(ctx); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		ports, err := allocatePorts(svc)
		if err != nil {
			return nil, fmt.Errorf("devservices: %s: %w", svc.name, err)
		}
		addr := loopback(ports[svc.ports[0]])
		proc, err := svc.launch(ctx, ports, o.Detach)
		if err != nil {
			return nil, err
		}
		err = waitHealthy(ctx, healthTimeout, proc.gone, func(ctx context.Context) error { return svc.healthy(ctx, ports) })
		if err == nil {
			st := &state{PID: proc.pid, Ports: ports, StartedAt: time.Now().UTC(), Detached: o.Detach, Command: svc.command}
			if !o.Detach {
				st.OwnerPID = os.Getpid()
				s.own(&owned{kind: svc.kind, proc: proc, statePath: statePath})
			}
			if err := writeState(statePath, st); err != nil {
				o.Log.Warn("recording "+svc.name+" state", "err", err)
			}
			o.Log.Info("started "+svc.name, "addr", addr, "pid", proc.pid, "detached", o.Detach, "log", proc.log)
			return ports, nil
		}
		if stopErr := terminate(proc, svc.stopSignal); stopErr != nil {
			o.Log.Warn("stopping "+svc.name+" that did not become healthy", "pid", proc.pid, "err", stopErr)
		}
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("devservices: starting %s: %w", svc.name, ctx.Err())
		case errors.Is(err, errExited) && attempt < startAttempts:
			o.Log.Warn(svc.name+" exited while starting; retrying on other ports", "addr", addr, "log", proc.log)
		case errors.Is(err, errExited):
			return nil, fmt.Errorf("devservices: %s exited before answering on %s (log: %s): %w\n%s",
				svc.name, addr, proc.log, err, tail(proc.log, 15))
		default:
			return nil, fmt.Errorf("devservices: %s did not become healthy on %s within %s (log: %s): %w\n%s",
				svc.name, addr, healthTimeout, proc.log, err, tail(proc.log, 15))
		}
	}
}

// reuse returns the ports of the recorded instance if it is alive and healthy. A recorded
// process that is alive but never answers is stopped: it holds the data directory.
func (s *Services) reuse(ctx context.Context, o Options, svc service, statePath string) (map[string]int, bool) {
	st, err := readState(statePath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		o.Log.Warn("ignoring unreadable "+svc.name+" state", "path", statePath, "err", err)
	}
	if st == nil && svc.discover != nil {
		st = svc.discover()
	}
	if st == nil {
		return nil, false
	}
	proc := &process{pid: st.PID}
	if !matches(st.PID, svc.command) {
		removeStateOf(statePath, st.PID)
		return nil, false
	}
	// Generous: another test package may be loading it, and giving up would stop a server in use.
	gone := func() bool { return !matches(st.PID, svc.command) }
	if err := waitHealthy(ctx, 15*time.Second, gone, func(ctx context.Context) error { return svc.healthy(ctx, st.Ports) }); err != nil {
		if ctx.Err() != nil {
			return nil, false
		}
		o.Log.Warn("recorded "+svc.name+" does not answer; replacing it", "pid", st.PID, "err", err)
		if err := terminate(proc, svc.stopSignal); err != nil {
			o.Log.Warn("stopping unhealthy "+svc.name, "pid", st.PID, "err", err)
		}
		removeStateOf(statePath, st.PID)
		return nil, false
	}
	if !st.Detached && !running(st.OwnerPID) {
		// Its owner died without stopping it (or it was found without a state file): adopt it.
		st.Detached, st.OwnerPID, st.Command = o.Detach, 0, svc.command
		if !o.Detach {
			st.OwnerPID = os.Getpid()
			s.own(&owned{kind: svc.kind, proc: proc, statePath: statePath})
		}
		if err := writeState(statePath, st); err != nil {
			o.Log.Warn("recording "+svc.name+" state", "err", err)
		}
	}
	o.Log.Info("reusing "+svc.name, "addr", loopback(st.Ports[svc.ports[0]]), "pid", st.PID)
	return st.Ports, true
}

// stopRecorded stops the instance recorded for root unless a live process owns it.
func stopRecorded(root string, k kind, log *slog.Logger) error {
	statePath := filepath.Join(root, ".data", k.key, "state.json")
	if _, err := os.Stat(statePath); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unlock, err := lockFile(ctx, filepath.Join(root, ".data", k.key+".lock"), k.name, log)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := readState(statePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("devservices: %s state: %w", k.name, err)
	}
	if !st.Detached && running(st.OwnerPID) {
		log.Info("leaving "+k.name+" running: its owner is alive", "pid", st.PID, "owner", st.OwnerPID)
		return nil
	}
	if matches(st.PID, k.command) {
		if err := terminate(&process{pid: st.PID}, k.stopSignal); err != nil {
			return fmt.Errorf("devservices: stop %s (pid %d): %w", k.name, st.PID, err)
		}
		log.Info("stopped "+k.name, "pid", st.PID)
	}
	removeStateOf(statePath, st.PID)
	return nil
}

// spawn starts a server with its output appended to logPath. A detached one gets its own
// session so it outlives the caller; an attached one dies with it.
func spawn(bin string, args, env []string, logPath string, detached bool) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n--- %s %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(logPath)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = serverAttr(detached)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("devservices: start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		// Reap it, or a dead server would linger as a zombie that still looks alive.
		_ = cmd.Wait()
		close(exited)
	}()
	return &process{pid: cmd.Process.Pid, exited: exited, log: logPath}, nil
}

// waitHealthy polls check with backoff until it passes, the process is gone, the timeout
// passes or ctx ends.
func waitHealthy(ctx context.Context, timeout time.Duration, gone func() bool, check func(context.Context) error) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		cctx, ccancel := context.WithTimeout(wctx, 3*time.Second)
		err := check(cctx)
		ccancel()
		if err == nil {
			return nil
		}
		if gone() {
			return fmt.Errorf("%w (last check: %v)", errExited, err)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %v", errNotHealthy, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// terminate sends the polite signal, then SIGKILL after stopGrace.
func terminate(p *process, sig syscall.Signal) error {
	if p.gone() {
		return nil
	}
	if err := syscall.Kill(p.pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return err
	}
	if waitGone(p, stopGrace) {
		return nil
	}
	if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	if waitGone(p, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d still running after SIGKILL", p.pid)
}

func waitGone(p *process, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !p.gone() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// running reports whether pid is a live process (zombies are not).
func running(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) || !procMounted()
	}
	// The state letter follows the parenthesised command name, which may contain anything.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// matches reports whether pid is alive and still runs command, so that a recorded pid that
// the system has since given to another program is never signalled.
func matches(pid int, command string) bool {
	if !running(pid) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return !procMounted()
	}
	argv0, _, _ := bytes.Cut(b, []byte{0})
	// Servers may rewrite their title ("redis-server 127.0.0.1:6379"), hence a prefix.
	return strings.HasPrefix(filepath.Base(string(argv0)), command)
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// lockFile takes an exclusive flock on path, polling so that ctx is respected. The kernel
// drops the lock if the holder dies.
func lockFile(ctx context.Context, path, name string, log *slog.Logger) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("devservices: lock for %s: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devservices: lock for %s: %w", name, err)
	}
	fd := int(f.Fd())
	start, told := time.Now(), false
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(fd, syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("devservices: lock %s: %w", path, err)
		}
		if !told && time.Since(start) > 2*time.Second {
			log.Info("waiting for another process that is starting "+name, "lock", path)
			told = true
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("devservices: waiting for lock %s held by another process starting %s: %w", path, name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func readState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &st, nil
}

func writeState(path string, st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// removeStateOf removes the state file if it still describes pid.
func removeStateOf(path string, pid int) {
	if st, err := readState(path); err == nil && st.PID == pid {
		_ = os.Remove(path)
	}
}

func allocatePorts(svc service) (map[string]int, error) {
	ports := make(map[string]int, len(svc.ports))
	taken := make(map[int]bool)
	for _, name := range svc.ports {
		if p, ok := svc.preferred[name]; ok && portFree(p) {
			ports[name], taken[p] = p, true
			continue
		}
		for {
			p, err := freePort()
			if err != nil {
				return nil, err
			}
			if !taken[p] {
				ports[name], taken[p] = p, true
				break
			}
		}
	}
	return ports, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", loopback(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// tail returns the last n lines of a log file, indented, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 8 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(fi.Size()-max, 0)
	}
	b := make([]byte, max)
	k, _ := f.Read(b)
	return lastLines(string(b[:k]), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// httpOK GETs url and wants 200. No keep-alive, no proxy: loopback health checks only.
func httpOK(ctx context.Context, url string, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
