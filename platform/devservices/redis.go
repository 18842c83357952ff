package devservices

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func (s *Services) ensureRedis(ctx context.Context, o Options) error {
	opt, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		return fmt.Errorf("devservices: Redis URL: %w", err)
	}
	if err := pingRedis(ctx, opt); err == nil {
		s.RedisURL = o.RedisURL
		o.Log.Debug("Redis answers", "url", redact(o.RedisURL))
		return nil
	} else if ctx.Err() != nil {
		return fmt.Errorf("devservices: Redis: %w", ctx.Err())
	} else {
		o.Log.Info("Redis does not answer; using a local redis-server", "url", redact(o.RedisURL), "err", err)
	}

	dir := o.dataDir("redis")
	var bin string
	ports, err := s.ensureService(ctx, o, service{
		kind:      redisKind(),
		ports:     []string{"port"},
		preferred: map[string]int{"port": 6379},
		healthy: func(ctx context.Context, ports map[string]int) error {
			return pingRedis(ctx, &redis.Options{Addr: loopback(ports["port"])})
		},
		prepare: func(ctx context.Context) error {
			if bin, err = o.findBinary("redis-server"); err == nil {
				return nil
			}
			if ierr := o.install(ctx, "redis-server"); ierr != nil {
				return fmt.Errorf("devservices: Redis does not answer at %s and there is no redis-server to start (%v; %v). "+
					"Install Redis (Debian: apt-get install redis-server) or point the Redis URL at a running server",
					redact(o.RedisURL), err, ierr)
			}
			bin, err = o.findBinary("redis-server")
			return err
		},
		launch: func(_ context.Context, ports map[string]int, detached bool) (*process, error) {
			args := []string{
				"--port", strconv.Itoa(ports["port"]), "--bind", "127.0.0.1",
				"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
			}
			return spawn(bin, args, os.Environ(), filepath.Join(dir, "log"), detached)
		},
	})
	if err != nil {
		return err
	}
	s.RedisURL = localRedisURL(o.RedisURL, ports["port"])
	return nil
}

// localRedisURL keeps the database number of the configured URL.
func localRedisURL(configured string, port int) string {
	u := &url.URL{Scheme: "redis", Host: loopback(port), Path: "/0"}
	if c, err := url.Parse(configured); err == nil && c.Path != "" && c.Path != "/" {
		u.Path = c.Path
	}
	return u.String()
}

// pingRedis sends PING (after AUTH when the URL has credentials) and wants PONG. It speaks
// RESP itself because go-redis logs every failed dial, and a failed dial is an expected answer here.
func pingRedis(ctx context.Context, opt *redis.Options) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", opt.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if opt.TLSConfig != nil {
		conn = tls.Client(conn, opt.TLSConfig)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	call := func(want string, args ...string) error {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := io.WriteString(conn, b.String()); err != nil {
			return err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if got := strings.TrimRight(line, "\r\n"); got != want {
			return fmt.Errorf("redis %s: %s", args[0], got)
		}
		return nil
	}
	switch {
	case opt.Username != "" && opt.Password != "":
		err = call("+OK", "AUTH", opt.Username, opt.Password)
	case opt.Password != "":
		err = call("+OK", "AUTH", opt.Password)
	}
	if err != nil {
		return err
	}
	return call("+PONG", "PING")
}
