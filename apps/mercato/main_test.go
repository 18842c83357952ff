package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"mercato/platform/config"
)

// outcome is what one run of the binary, in-process or as a process, left behind.
type outcome struct {
	code           int
	stdout, stderr string
}

// runner runs mercato with args and env (nothing else from the environment) and returns within
// 10 s or fails the test.
type runner func(t *testing.T, args []string, env map[string]string) outcome

var runners = []struct {
	name string
	run  runner
}{
	{"run", runInProcess},
	{"binary", runBinary},
}

func runInProcess(t *testing.T, args []string, env map[string]string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr) }()
	select {
	case code := <-done:
		return outcome{code, stdout.String(), stderr.String()}
	case <-time.After(10 * time.Second):
		t.Fatalf("run(%q) did not return within 10s", args)
		return outcome{}
	}
}

func runBinary(t *testing.T, args []string, env map[string]string) outcome {
	t.Helper()
	p := startProcess(t, env, args...)
	code := p.wait(t, 10*time.Second)
	return outcome{code, p.stdout.String(), p.stderr.String()}
}

// TestBadConfigurationExits2 checks that every setup mistake exits 2 with one line that names
// the setting, and that serve has not left anything listening.
func TestBadConfigurationExits2(t *testing.T) {
	const unreachable = "postgres://mercato_app@127.0.0.1:1/mercato?sslmode=disable"
	cases := []struct {
		name     string
		args     []string // "{addr}" becomes a free loopback address (or the held one)
		env      map[string]string
		setting  string // the one stderr line must contain it
		holdPort bool   // listen on {addr} ourselves first
	}{
		{"unreachable database", []string{"serve", "--http-addr", "{addr}"},
			map[string]string{"MERCATO_DATABASE_URL": unreachable}, "MERCATO_DATABASE_URL", false},
		{"database url not a url", []string{"serve", "--http-addr", "{addr}"},
			map[string]string{"MERCATO_DATABASE_URL": "not a url"}, "MERCATO_DATABASE_URL", false},
		{"redis url with http scheme", []string{"serve", "--http-addr", "{addr}"},
			map[string]string{"MERCATO_REDIS_URL": "http://x"}, "MERCATO_REDIS_URL", false},
		{"port in use", []string{"serve", "--http-addr", "{addr}"}, nil, "MERCATO_HTTP_ADDR", true},
		{"port in use for dev", []string{"dev", "--http-addr", "{addr}"}, nil, "MERCATO_HTTP_ADDR", true},
		{"body limit not a number", []string{"serve", "--http-addr", "{addr}"},
			map[string]string{"MERCATO_BODY_LIMIT": "abc"}, "MERCATO_BODY_LIMIT", false},
		{"body limit zero", []string{"serve", "--http-addr", "{addr}"},
			map[string]string{"MERCATO_BODY_LIMIT": "0"}, "MERCATO_BODY_LIMIT", false},
		{"log level", []string{"serve", "--http-addr", "{addr}"},
			map[string]string{"MERCATO_LOG_LEVEL": "loud"}, "MERCATO_LOG_LEVEL", false},
		{"shutdown timeout", []string{"serve", "--http-addr", "{addr}"},
			map[string]string{"MERCATO_SHUTDOWN_TIMEOUT": "soon"}, "MERCATO_SHUTDOWN_TIMEOUT", false},
		{"http addr flag", []string{"serve", "--http-addr", "nonsense"}, nil, "MERCATO_HTTP_ADDR", false},
		{"http addr env", []string{"serve"}, map[string]string{"MERCATO_HTTP_ADDR": "nonsense"}, "MERCATO_HTTP_ADDR", false},
		{"unknown flag", []string{"serve", "--http-addr", "{addr}", "--nope"}, nil, "nope", false},
		{"stray argument", []string{"serve", "--http-addr", "{addr}", "extra"}, nil, "extra", false},
		{"worker unreachable database", []string{"worker"},
			map[string]string{"MERCATO_DATABASE_URL": unreachable}, "MERCATO_DATABASE_URL", false},
		{"migrate unreachable owner", []string{"migrate", "status"},
			map[string]string{"MERCATO_DATABASE_OWNER_URL": strings.Replace(unreachable, "mercato_app", "mercato_owner", 1)},
			"MERCATO_DATABASE_OWNER_URL", false},
		// seed writes the catalog through the services, so it needs the app pool too.
		{"seed unreachable database", []string{"seed"},
			map[string]string{"MERCATO_DATABASE_URL": unreachable}, "MERCATO_DATABASE_URL", false},
		{"audit verify unreachable platform", []string{"audit", "verify", "--tenant", "platform"},
			map[string]string{"MERCATO_DATABASE_PLATFORM_URL": strings.Replace(unreachable, "mercato_app", "mercato_platform", 1)},
			"MERCATO_DATABASE_PLATFORM_URL", false},
		{"search reindex unreachable platform", []string{"search", "reindex"},
			map[string]string{"MERCATO_DATABASE_PLATFORM_URL": strings.Replace(unreachable, "mercato_app", "mercato_platform", 1)},
			"MERCATO_DATABASE_PLATFORM_URL", false},
		{"migrate unknown subcommand", []string{"migrate", "sideways"}, nil, "migrate", false},
	}
	for _, tc := range cases {
		for _, r := range runners {
			t.Run(tc.name+"/"+r.name, func(t *testing.T) {
				t.Parallel()
				var addr string
				if tc.holdPort {
					addr = holdAddr(t)
				} else {
					addr = freeAddr(t)
				}
				args := make([]string, len(tc.args))
				for i, a := range tc.args {
					args[i] = strings.ReplaceAll(a, "{addr}", addr)
				}

				start := time.Now()
				out := r.run(t, args, tc.env)
				if out.code != 2 {
					t.Errorf("exit code %d, want 2", out.code)
				}
				lines := plainLines(out.stderr)
				if len(lines) != 1 {
					t.Fatalf("stderr has %d non-log lines, want 1:\n%s", len(lines), out.stderr)
				}
				if !strings.HasPrefix(lines[0], "mercato: ") || !strings.Contains(lines[0], tc.setting) {
					t.Errorf("stderr line %q does not name %s", lines[0], tc.setting)
				}
				if !tc.holdPort && strings.Contains(strings.Join(tc.args, " "), "{addr}") {
					wantClosed(t, addr)
				}
				t.Logf("%s in %s", lines[0], time.Since(start).Round(time.Millisecond))
			})
		}
	}
}

// TestUsageAndCommands covers the answers that need no services: usage, help, version and
// commands that do not exist.
func TestUsageAndCommands(t *testing.T) {
	var settings []string
	ct := reflect.TypeFor[config.Config]()
	for i := range ct.NumField() {
		if env := ct.Field(i).Tag.Get("env"); env != "" {
			settings = append(settings, env)
		}
	}
	if len(settings) < 10 {
		t.Fatalf("found only %d env tags on config.Config: %v", len(settings), settings)
	}

	cases := []struct {
		name       string
		args       []string
		code       int
		stdoutHas  []string
		stderrHas  string
		allSetting bool // stdout lists every MERCATO_ setting
	}{
		{"no arguments", nil, 2, []string{"Usage: mercato", "migrate up|down|status"}, "", true},
		{"--help", []string{"--help"}, 0, []string{"Usage: mercato"}, "", true},
		{"help", []string{"help"}, 0, []string{"Usage: mercato"}, "", true},
		{"serve --help", []string{"serve", "--help"}, 0, []string{"Usage: mercato"}, "", true},
		{"version", []string{"version"}, 0, []string{"mercato "}, "", false},
		{"migrate without subcommand", []string{"migrate"}, 2, nil, "migrate needs up, down or status", false},
		{"search without subcommand", []string{"search"}, 2, nil, "search needs reindex", false},
		{"unknown command", []string{"bogus"}, 2, nil, `unknown command "bogus"`, false},
	}
	for _, tc := range cases {
		for _, r := range runners {
			t.Run(tc.name+"/"+r.name, func(t *testing.T) {
				t.Parallel()
				out := r.run(t, tc.args, nil)
				if out.code != tc.code {
					t.Errorf("exit code %d, want %d", out.code, tc.code)
				}
				for _, s := range tc.stdoutHas {
					if !strings.Contains(out.stdout, s) {
						t.Errorf("stdout lacks %q:\n%s", s, out.stdout)
					}
				}
				if tc.allSetting {
					for _, s := range settings {
						if !strings.Contains(out.stdout, s) {
							t.Errorf("usage does not list %s", s)
						}
					}
				}
				if tc.stderrHas != "" && !strings.Contains(out.stderr, tc.stderrHas) {
					t.Errorf("stderr lacks %q:\n%s", tc.stderrHas, out.stderr)
				}
				if tc.code == 0 && len(plainLines(out.stderr)) != 0 {
					t.Errorf("exit 0 with errors on stderr:\n%s", out.stderr)
				}
			})
		}
	}
}

// plainLines are stderr's non-empty lines that are not JSON log records.
func plainLines(s string) []string {
	var out []string
	for _, l := range nonEmptyLines(s) {
		if !strings.HasPrefix(l, "{") {
			out = append(out, l)
		}
	}
	return out
}
