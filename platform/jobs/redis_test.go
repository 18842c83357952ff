package jobs_test

import (
	"reflect"
	"testing"

	"github.com/hibiken/asynq"

	"mercato/platform/jobs"
)

func TestRedisURL(t *testing.T) {
	tests := []struct {
		url  string
		want asynq.RedisConnOpt // nil: an error is expected
		tls  string             // the TLS server name expected, "" for none
	}{
		{url: "redis://127.0.0.1:6379/0", want: asynq.RedisClientOpt{Addr: "127.0.0.1:6379"}},
		{url: "redis://localhost", want: asynq.RedisClientOpt{Addr: "localhost:6379"}},
		{url: "redis://:secret@cache:6380/3", want: asynq.RedisClientOpt{Addr: "cache:6380", Password: "secret", DB: 3}},
		{url: "redis://app:secret@cache/2", want: asynq.RedisClientOpt{Addr: "cache:6379", Username: "app", Password: "secret", DB: 2}},
		{url: "redis://[::1]:7000", want: asynq.RedisClientOpt{Addr: "[::1]:7000"}},
		{url: "rediss://cache.example.com:6380/1", want: asynq.RedisClientOpt{Addr: "cache.example.com:6380", DB: 1}, tls: "cache.example.com"},
		{url: "redis-socket://:pw@/run/redis.sock?db=4", want: asynq.RedisClientOpt{Network: "unix", Addr: "/run/redis.sock", Password: "pw", DB: 4}},
		{url: "redis-sentinel://:pw@s1:26379,s2:26380,s3/5?master=mymaster",
			want: asynq.RedisFailoverClientOpt{MasterName: "mymaster", SentinelAddrs: []string{"s1:26379", "s2:26380", "s3:26379"},
				SentinelPassword: "pw", Password: "pw", DB: 5}},
		{url: "redis-sentinel://app:pw@s1?master=m&sentinel_password=other",
			want: asynq.RedisFailoverClientOpt{MasterName: "m", SentinelAddrs: []string{"s1:26379"},
				SentinelPassword: "other", Username: "app", Password: "pw"}},
		{url: "redis-cluster://n1:7000,n2:7001,n3", want: asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000", "n2:7001", "n3:6379"}}},
		{url: "redis-cluster://app:pw@n1:7000/", want: asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000"}, Username: "app", Password: "pw"}},
		{url: "rediss-cluster://n1.example.com:7000,n2.example.com:7000",
			want: asynq.RedisClusterClientOpt{Addrs: []string{"n1.example.com:7000", "n2.example.com:7000"}}, tls: "n1.example.com"},
		// Refused.
		{url: "redis-sentinel://s1:26379"},      // no master
		{url: "redis-cluster://n1:7000/2"},      // clusters have database 0 only
		{url: "redis-cluster://"},               // no hosts
		{url: "redis://a:6379,b:6379"},          // several hosts need sentinel or cluster
		{url: "redis://cache:6379/x"},           // path is not a database number
		{url: "redis://cache:99999"},            // port out of range
		{url: "memcached://cache:11211"},        // unknown scheme
		{url: "127.0.0.1:6379"},                 // no scheme
		{url: "redis://"},                       // no host
		{url: "redis-sentinel://s1/x?master=m"}, // bad database
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			got, err := jobs.Redis(tc.url)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("got %#v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var serverName string
			switch o := got.(type) {
			case asynq.RedisClientOpt:
				if o.TLSConfig != nil {
					serverName, o.TLSConfig = o.TLSConfig.ServerName, nil
				}
				got = o
			case asynq.RedisClusterClientOpt:
				if o.TLSConfig != nil {
					serverName, o.TLSConfig = o.TLSConfig.ServerName, nil
				}
				got = o
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
			if serverName != tc.tls {
				t.Errorf("TLS server name %q, want %q", serverName, tc.tls)
			}
		})
	}
}
