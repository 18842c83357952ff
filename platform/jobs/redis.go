package jobs

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
)

// Redis turns MERCATO_REDIS_URL into asynq's connection options. It accepts
//
//	redis://[user[:password]@]host[:port][/db]             one server
//	rediss://...                                           the same over TLS
//	redis-socket://[:password@]/path/to/redis.sock[?db=N]  a Unix socket
//	redis-sentinel://[user[:password]@]host:port[,host:port...][/db]?master=name[&sentinel_password=p]
//	redis-cluster://[user[:password]@]host:port[,host:port...]   (rediss-cluster:// for TLS)
//
// asynq.ParseRedisURI drops the ACL user name, the Sentinel database and the master's
// password, and has no Cluster form, so only the socket form is left to it. A missing port is
// 6379 (26379 for Sentinel). For Sentinel the URL's password authenticates at the master and,
// unless sentinel_password is given, at the Sentinels too.
func Redis(rawURL string) (asynq.RedisConnOpt, error) {
	if strings.HasPrefix(rawURL, "redis-socket:") {
		return asynq.ParseRedisURI(rawURL)
	}
	// net/url reads "h1:7000,h2" as a host with a bad port, so the host list is taken out
	// before parsing the rest.
	rest, hosts := cutHosts(rawURL)
	u, err := url.Parse(rest)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	u.Host = hosts
	user, password := "", ""
	if u.User != nil {
		user = u.User.Username()
		password, _ = u.User.Password()
	}
	switch u.Scheme {
	case "redis", "rediss":
		if strings.Contains(u.Host, ",") {
			return nil, fmt.Errorf("redis url: %s names several hosts; use redis-sentinel:// or redis-cluster://", u.Scheme)
		}
		host, err := hostPort(u.Host, "6379")
		if err != nil {
			return nil, err
		}
		db, err := database(u.Path)
		if err != nil {
			return nil, err
		}
		opt := asynq.RedisClientOpt{Addr: host, Username: user, Password: password, DB: db}
		if u.Scheme == "rediss" {
			opt.TLSConfig = tlsFor(host)
		}
		return opt, nil
	case "redis-sentinel":
		addrs, err := hostList(u.Host, "26379")
		if err != nil {
			return nil, err
		}
		db, err := database(u.Path)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		master := q.Get("master")
		if master == "" {
			return nil, fmt.Errorf("redis url: redis-sentinel:// needs ?master=<name>")
		}
		sentinelPassword := password
		if q.Has("sentinel_password") {
			sentinelPassword = q.Get("sentinel_password")
		}
		return asynq.RedisFailoverClientOpt{
			MasterName: master, SentinelAddrs: addrs, SentinelPassword: sentinelPassword,
			Username: user, Password: password, DB: db,
		}, nil
	case "redis-cluster", "rediss-cluster":
		addrs, err := hostList(u.Host, "6379")
		if err != nil {
			return nil, err
		}
		if db, err := database(u.Path); err != nil || db != 0 {
			return nil, fmt.Errorf("redis url: Redis Cluster has only database 0")
		}
		opt := asynq.RedisClusterClientOpt{Addrs: addrs, Username: user, Password: password}
		if u.Scheme == "rediss-cluster" {
			opt.TLSConfig = tlsFor(addrs[0])
		}
		return opt, nil
	default:
		return nil, fmt.Errorf("redis url: unsupported scheme %q (want redis, rediss, redis-socket, redis-sentinel, redis-cluster or rediss-cluster)", u.Scheme)
	}
}

// cutHosts returns raw with its host list replaced by a placeholder, and the host list.
func cutHosts(raw string) (rest, hosts string) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw, ""
	}
	auth := raw[i+3:]
	tail := ""
	if end := strings.IndexAny(auth, "/?#"); end >= 0 {
		auth, tail = auth[:end], auth[end:]
	}
	userinfo := ""
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		userinfo, auth = auth[:at+1], auth[at+1:]
	}
	return raw[:i+3] + userinfo + "hosts" + tail, auth
}

func hostList(hosts, defaultPort string) ([]string, error) {
	var out []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		hp, err := hostPort(h, defaultPort)
		if err != nil {
			return nil, err
		}
		out = append(out, hp)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("redis url: no hosts")
	}
	return out, nil
}

func hostPort(h, defaultPort string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("redis url: no host")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: "host" or "[::1]".
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), defaultPort
	}
	if host == "" {
		return "", fmt.Errorf("redis url: no host in %q", h)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("redis url: bad port in %q", h)
	}
	return net.JoinHostPort(host, port), nil
}

func database(path string) (int, error) {
	p := strings.Trim(path, "/")
	if p == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("redis url: the path must be a database number, got %q", path)
	}
	return n, nil
}

func tlsFor(hostport string) *tls.Config {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
}
