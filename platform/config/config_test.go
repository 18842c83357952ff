package config_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"mercato/platform/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaultsEnvAndFlags(t *testing.T) {
	cfg, err := config.Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8080" || cfg.BodyLimit != 4<<20 || cfg.ShutdownTimeout != 20*time.Second {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = config.Load([]string{"--http-addr", "127.0.0.1:9999"}, env(map[string]string{
		"MERCATO_HTTP_ADDR": "127.0.0.1:7777", "MERCATO_BODY_LIMIT": "10", "MERCATO_MINIO_SECURE": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:9999" || cfg.BodyLimit != 10 || !cfg.MinIOSecure {
		t.Errorf("flags must beat env, env must beat defaults: %+v", cfg)
	}
}

func TestLoadNamesTheBadSetting(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		setting string
	}{
		{nil, map[string]string{"MERCATO_BODY_LIMIT": "abc"}, "MERCATO_BODY_LIMIT"},
		{nil, map[string]string{"MERCATO_BODY_LIMIT": "-1"}, "MERCATO_BODY_LIMIT"},
		{nil, map[string]string{"MERCATO_HTTP_ADDR": "nonsense"}, "MERCATO_HTTP_ADDR"},
		{nil, map[string]string{"MERCATO_DATABASE_URL": "not a url"}, "MERCATO_DATABASE_URL"},
		{nil, map[string]string{"MERCATO_REDIS_URL": "http://x"}, "MERCATO_REDIS_URL"},
		{nil, map[string]string{"MERCATO_LOG_LEVEL": "loud"}, "MERCATO_LOG_LEVEL"},
		{nil, map[string]string{"MERCATO_SHUTDOWN_TIMEOUT": "soon"}, "MERCATO_SHUTDOWN_TIMEOUT"},
		{nil, map[string]string{"MERCATO_TRUSTED_PROXIES": "10.0.0.0/8, lb.internal"}, "MERCATO_TRUSTED_PROXIES"},
		{[]string{"--nope"}, nil, "flags"},
		{[]string{"extra"}, nil, "flags"},
	} {
		_, err := config.Load(tc.args, env(tc.env))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Setting != tc.setting {
			t.Errorf("%v %v: got %v, want an error naming %s", tc.args, tc.env, err, tc.setting)
		}
	}
}

func TestMaskedHidesSecrets(t *testing.T) {
	cfg, err := config.Load(nil, env(map[string]string{
		"MERCATO_DATABASE_URL":      "postgres://mercato_app:hunter2@db:5432/mercato",
		"MERCATO_STRIPE_SECRET_KEY": "sk_live_abcdef",
		"MERCATO_MINIO_SECRET_KEY":  "miniosecret",
	}))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(cfg.Masked(), "\n")
	for _, secret := range []string{"hunter2", "sk_live_abcdef", "miniosecret"} {
		if strings.Contains(all, secret) {
			t.Errorf("secret %q printed:\n%s", secret, all)
		}
	}
	if !strings.Contains(all, "MERCATO_DATABASE_URL=postgres://mercato_app:xxxxx@db:5432/mercato") {
		t.Errorf("database URL should stay readable with the password masked:\n%s", all)
	}
	var usage strings.Builder
	config.Usage(&usage)
	for _, line := range cfg.Masked() {
		name := line[:strings.IndexByte(line, '=')]
		if !strings.Contains(usage.String(), name) {
			t.Errorf("--help does not list %s", name)
		}
	}
}

// docs/configuration.md must list every setting the binary reads.
func TestDocsListEverySetting(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Load(nil, env(nil))
	for _, line := range cfg.Masked() {
		name := line[:strings.IndexByte(line, '=')]
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/configuration.md does not document %s", name)
		}
	}
}
