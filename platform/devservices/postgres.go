package devservices

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

func (s *Services) ensurePostgres(ctx context.Context, o Options) error {
	cfg, err := pgx.ParseConfig(o.PostgresURL)
	if err != nil {
		return fmt.Errorf("devservices: PostgreSQL URL: %w", err)
	}
	if err := pingPostgres(ctx, cfg); err == nil {
		s.PostgresURL = o.PostgresURL
		o.Log.Debug("PostgreSQL answers", "url", redact(o.PostgresURL))
		return nil
	} else if ctx.Err() != nil {
		return fmt.Errorf("devservices: PostgreSQL: %w", ctx.Err())
	} else {
		o.Log.Info("PostgreSQL does not answer; using a local server under .data/postgres", "url", redact(o.PostgresURL), "err", err)
	}
	pg := &postgresServer{o: o, dir: o.dataDir("postgres")}
	ports, err := s.ensureService(ctx, o, pg.service())
	if err != nil {
		return err
	}
	s.PostgresURL = localPostgresURL(ports["port"])
	return nil
}

func localPostgresURL(port int) string {
	return "postgres://postgres@" + loopback(port) + "/postgres?sslmode=disable"
}

func pingPostgres(ctx context.Context, cfg *pgx.ConnConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// postgresServer is a cluster in Root/.data/postgres/data, run by pg_ctl with trust
// authentication on 127.0.0.1 only.
type postgresServer struct {
	o            Options
	dir          string
	initdb, ctl  string
	cred         *syscall.Credential // initdb and postgres refuse to run as root
	socketDirVal string
}

func (p *postgresServer) pgdata() string  { return filepath.Join(p.dir, "data") }
func (p *postgresServer) logPath() string { return filepath.Join(p.dir, "log") }

// socketDir is inside .data unless that path is too long for a unix socket address.
func (p *postgresServer) socketDir() string {
	if p.socketDirVal == "" {
		p.socketDirVal = filepath.Join(p.dir, "run")
		if len(p.socketDirVal)+len("/.s.PGSQL.65535.lock") > 100 {
			sum := sha256.Sum256([]byte(p.dir))
			p.socketDirVal = filepath.Join(os.TempDir(), "mercato-pg-"+hex.EncodeToString(sum[:6]))
		}
	}
	return p.socketDirVal
}

func (p *postgresServer) service() service {
	return service{
		kind:      postgresKind(),
		ports:     []string{"port"},
		preferred: map[string]int{"port": 5432},
		healthy: func(ctx context.Context, ports map[string]int) error {
			cfg, err := pgx.ParseConfig(localPostgresURL(ports["port"]))
			if err != nil {
				return err
			}
			return pingPostgres(ctx, cfg)
		},
		discover: p.discover,
		prepare:  p.prepare,
		launch:   p.launch,
	}
}

// discover finds a server running on this data directory without a state file (its starter
// died before recording it).
func (p *postgresServer) discover() *state {
	b, err := os.ReadFile(filepath.Join(p.pgdata(), "postmaster.pid"))
	if err != nil {
		return nil
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return nil
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, err2 := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err1 != nil || err2 != nil {
		return nil
	}
	return &state{PID: pid, Ports: map[string]int{"port": port}, Command: "postgres"}
}

func (p *postgresServer) prepare(ctx context.Context) error {
	if err := p.findBinaries(); err != nil {
		if ierr := p.o.install(ctx, "postgresql"); ierr != nil {
			return fmt.Errorf("devservices: PostgreSQL does not answer at %s and there is no initdb/pg_ctl to start one (%v; %v). "+
				"Install PostgreSQL (Debian: apt-get install postgresql) or point the PostgreSQL URL at a running server",
				redact(p.o.PostgresURL), err, ierr)
		}
		if err := p.findBinaries(); err != nil {
			return fmt.Errorf("devservices: installed postgresql, but: %w", err)
		}
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("devservices: PostgreSQL refuses to run as root and there is no postgres user to run it as (create one: adduser --system --group postgres): %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	for _, d := range []string{p.dir, p.socketDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("devservices: PostgreSQL: %w", err)
		}
	}
	if p.cred != nil {
		if err := p.handOver(); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(p.pgdata(), "PG_VERSION")); err == nil {
		return nil
	}
	p.o.Log.Info("initialising a PostgreSQL cluster", "pgdata", p.pgdata())
	locale := "--no-locale"
	if _, err := os.Stat("/usr/lib/locale/C.utf8"); err == nil {
		locale = "--locale=C.UTF-8" // Unicode-aware lower()/upper() and ILIKE
	}
	cmd := exec.CommandContext(ctx, p.initdb, "-D", p.pgdata(), "-A", "trust", "-U", "postgres", "-E", "UTF8", locale)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	cmd.Dir = p.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("devservices: initdb %s failed: %w\n%s", p.pgdata(), err, lastLines(string(out), 15))
	}
	return nil
}

func (p *postgresServer) findBinaries() error {
	initdb, err := p.o.findBinary("initdb")
	if err != nil {
		return err
	}
	// pg_ctl must be the same major version as initdb.
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real
	}
	ctl := filepath.Join(filepath.Dir(initdb), "pg_ctl")
	if _, err := os.Stat(ctl); err != nil {
		if ctl, err = p.o.findBinary("pg_ctl"); err != nil {
			return err
		}
	}
	p.initdb, p.ctl = initdb, ctl
	return nil
}

// handOver gives the postgres user what it needs when we run as root: ownership of
// .data/postgres and a searchable path to it.
func (p *postgresServer) handOver() error {
	for d := filepath.Dir(p.dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("devservices: PostgreSQL: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().Perm()&0o001 == 0 && st.Uid != p.cred.Uid {
			return fmt.Errorf("devservices: PostgreSQL runs as the postgres user, which cannot reach %s (chmod o+x %s)", p.dir, d)
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	chown := func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(p.cred.Uid), int(p.cred.Gid))
	}
	for _, d := range []string{p.dir, p.socketDir()} {
		if err := filepath.WalkDir(d, chown); err != nil {
			return fmt.Errorf("devservices: PostgreSQL: hand %s to the postgres user: %w", d, err)
		}
	}
	return nil
}

func (p *postgresServer) launch(ctx context.Context, ports map[string]int, _ bool) (*process, error) {
	// pg_ctl puts the postmaster in its own session, so it is never our child; Stop signals it.
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=200", ports["port"], shellQuote(p.socketDir()))
	cmd := exec.CommandContext(ctx, p.ctl, "start", "-D", p.pgdata(), "-l", p.logPath(), "-w", "-t", "30", "-o", opts)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	cmd.Dir = p.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("devservices: PostgreSQL did not start on %s (log: %s): pg_ctl: %w\n%s\n%s",
			loopback(ports["port"]), p.logPath(), err, lastLines(string(out), 5), tail(p.logPath(), 15))
	}
	st := p.discover()
	if st == nil {
		return nil, errors.New("devservices: pg_ctl started PostgreSQL but postmaster.pid is unreadable")
	}
	return &process{pid: st.PID, log: p.logPath()}, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// redact hides a password in a URL meant for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
