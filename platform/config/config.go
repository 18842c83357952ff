// Package config owns Mercato's settings: one struct, loaded from MERCATO_* environment
// variables and command-line flags, printed at start with secrets masked.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Config is every setting the binary reads. Each field carries its environment name, flag
// name, default and help text in tags; Load and Usage read them, so a new setting is one field.
type Config struct {
	HTTPAddr       string `env:"MERCATO_HTTP_ADDR" flag:"http-addr" default:"127.0.0.1:8080" help:"address the HTTP server listens on"`
	PublicURL      string `env:"MERCATO_PUBLIC_URL" flag:"public-url" default:"http://localhost:8080" help:"URL people use to reach the platform (links, redirects)"`
	TrustedProxies string `env:"MERCATO_TRUSTED_PROXIES" flag:"trusted-proxies" default:"" help:"comma-separated IPs or CIDRs of load balancers whose X-Forwarded-For is believed; empty trusts none"`
	CORSOrigins    string `env:"MERCATO_CORS_ORIGINS" flag:"cors-origins" default:"" help:"comma-separated origins (https://app.example.com) whose browsers may call /v1 with credentials"`
	BaseHost       string `env:"MERCATO_BASE_HOST" flag:"base-host" default:"localhost" help:"platform domain; a tenant is reachable at {slug}.{base-host}"`

	DatabaseURL         string `env:"MERCATO_DATABASE_URL" flag:"database-url" default:"postgres://mercato_app@127.0.0.1:5432/mercato?sslmode=disable" help:"PostgreSQL URL of the runtime role (mercato_app: no superuser, no BYPASSRLS)" secret:"url"`
	DatabaseOwnerURL    string `env:"MERCATO_DATABASE_OWNER_URL" flag:"database-owner-url" default:"postgres://mercato_owner@127.0.0.1:5432/mercato?sslmode=disable" help:"PostgreSQL URL of the schema owner, used by migrations" secret:"url"`
	DatabasePlatformURL string `env:"MERCATO_DATABASE_PLATFORM_URL" flag:"database-platform-url" default:"postgres://mercato_platform@127.0.0.1:5432/mercato?sslmode=disable" help:"PostgreSQL URL of the audited cross-tenant role" secret:"url"`
	DatabaseAdminURL    string `env:"MERCATO_DATABASE_ADMIN_URL" flag:"database-admin-url" default:"" help:"superuser URL used only to create the roles and database; empty means they already exist" secret:"url"`
	DatabaseMaxConns    int    `env:"MERCATO_DATABASE_MAX_CONNS" flag:"database-max-conns" default:"20" help:"connections in the runtime pool"`

	RedisURL string `env:"MERCATO_REDIS_URL" flag:"redis-url" default:"redis://127.0.0.1:6379/0" help:"Redis URL for jobs and rate limits" secret:"url"`

	MinIOEndpoint  string `env:"MERCATO_MINIO_ENDPOINT" flag:"minio-endpoint" default:"127.0.0.1:9000" help:"MinIO (S3 API) host:port"`
	MinIOAccessKey string `env:"MERCATO_MINIO_ACCESS_KEY" flag:"minio-access-key" default:"mercato" help:"MinIO access key"`
	MinIOSecretKey string `env:"MERCATO_MINIO_SECRET_KEY" flag:"minio-secret-key" default:"mercato-secret" help:"MinIO secret key" secret:"value"`
	MinIOBucket    string `env:"MERCATO_MINIO_BUCKET" flag:"minio-bucket" default:"mercato-media" help:"private bucket that holds media and exports"`
	MinIOSecure    bool   `env:"MERCATO_MINIO_SECURE" flag:"minio-secure" default:"false" help:"use TLS to reach MinIO"`

	StripeAPIBase       string `env:"MERCATO_STRIPE_API_BASE" flag:"stripe-api-base" default:"http://127.0.0.1:12111" help:"Stripe API base URL (stripe-mock in dev and tests)"`
	StripeSecretKey     string `env:"MERCATO_STRIPE_SECRET_KEY" flag:"stripe-secret-key" default:"sk_test_123" help:"Stripe secret key" secret:"value"`
	StripeWebhookSecret string `env:"MERCATO_STRIPE_WEBHOOK_SECRET" flag:"stripe-webhook-secret" default:"whsec_dev" help:"secret that signs inbound Stripe webhooks" secret:"value"`

	CarrierURL    string `env:"MERCATO_CARRIER_URL" flag:"carrier-url" default:"" help:"base URL of the generic carrier tracking API (docs/jobs.md); empty offers only the manual carrier (dev starts a simulator and points this at it)"`
	CarrierSecret string `env:"MERCATO_CARRIER_SECRET" flag:"carrier-secret" default:"" help:"bearer token for the carrier API; also verifies its webhooks to /webhooks/carriers/generic_http" secret:"value"`

	WebhooksAllowInsecure bool `env:"MERCATO_WEBHOOKS_ALLOW_INSECURE" flag:"webhooks-allow-insecure" default:"false" help:"dev and tests only: outbound webhooks may use http:// and loopback addresses"`

	SecretKey string `env:"MERCATO_SECRET_KEY" flag:"secret-key" default:"" help:"at least 32 random characters; keys the encryption of stored secrets and the signing of cookies (dev makes one in .data/secret-key)" secret:"value"`

	SMTPURL  string `env:"MERCATO_SMTP_URL" flag:"smtp-url" default:"smtp://127.0.0.1:1025?starttls=false" help:"SMTP server for outgoing mail: smtp://user:pass@host:port?starttls=true (dev starts a capturing server and points this at it)" secret:"url"`
	MailFrom string `env:"MERCATO_MAIL_FROM" flag:"mail-from" default:"Mercato <noreply@localhost>" help:"From address of Mercato's mail"`

	BodyLimit       int           `env:"MERCATO_BODY_LIMIT" flag:"body-limit" default:"4194304" help:"largest request body in bytes; larger gets 413"`
	ShutdownTimeout time.Duration `env:"MERCATO_SHUTDOWN_TIMEOUT" flag:"shutdown-timeout" default:"20s" help:"time in-flight requests and jobs get to finish on SIGTERM"`
	LogLevel        string        `env:"MERCATO_LOG_LEVEL" flag:"log-level" default:"info" help:"debug, info, warn or error"`
	LogFormat       string        `env:"MERCATO_LOG_FORMAT" flag:"log-format" default:"json" help:"json or text"`

	Root string `env:"MERCATO_ROOT" flag:"root" default:"." help:"project folder that holds .bin/ and .data/ for local services"`
}

// Error names the setting that is wrong; main exits 2 on it.
type Error struct {
	Setting string // environment name
	Reason  string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s: %s", e.Setting, e.Reason) }

// Load reads defaults, then the environment, then flags (flags win). args are the flags
// after the subcommand. Unknown flags and unparsable values are errors naming the setting.
func Load(args []string, getenv func(string) string) (Config, error) {
	var cfg Config
	fs := flagSet(&cfg, io.Discard)
	v := reflect.ValueOf(&cfg).Elem()
	for i, f := range fields() {
		val := f.Tag.Get("default")
		if e := getenv(f.Tag.Get("env")); e != "" {
			val = e
		}
		if err := setField(v.Field(i), val); err != nil {
			return cfg, &Error{Setting: f.Tag.Get("env"), Reason: err.Error()}
		}
	}
	if err := fs.Parse(args); err != nil {
		return cfg, &Error{Setting: "flags", Reason: err.Error()}
	}
	if fs.NArg() > 0 {
		return cfg, &Error{Setting: "flags", Reason: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return &Error{"MERCATO_HTTP_ADDR", "want host:port: " + err.Error()}
	}
	for _, u := range []struct{ env, val, scheme string }{
		{"MERCATO_DATABASE_URL", c.DatabaseURL, "postgres"},
		{"MERCATO_DATABASE_OWNER_URL", c.DatabaseOwnerURL, "postgres"},
		{"MERCATO_DATABASE_PLATFORM_URL", c.DatabasePlatformURL, "postgres"},
		{"MERCATO_DATABASE_ADMIN_URL", c.DatabaseAdminURL, "postgres"},
		{"MERCATO_REDIS_URL", c.RedisURL, "redis"},
	} {
		if u.val == "" && u.env == "MERCATO_DATABASE_ADMIN_URL" {
			continue
		}
		p, err := url.Parse(u.val)
		if err != nil || p.Host == "" || !strings.HasPrefix(p.Scheme, u.scheme) {
			return &Error{u.env, fmt.Sprintf("want a %s:// URL with a host, got %q", u.scheme, MaskURL(u.val))}
		}
	}
	if _, err := url.Parse(c.StripeAPIBase); err != nil || !strings.HasPrefix(c.StripeAPIBase, "http") {
		return &Error{"MERCATO_STRIPE_API_BASE", "want an http(s) URL"}
	}
	if c.CarrierURL != "" {
		if u, err := url.Parse(c.CarrierURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return &Error{"MERCATO_CARRIER_URL", "want an http(s) URL with a host"}
		}
		if c.CarrierSecret == "" {
			return &Error{"MERCATO_CARRIER_SECRET", "required with MERCATO_CARRIER_URL: it verifies the carrier's webhooks"}
		}
	}
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			return &Error{"MERCATO_TRUSTED_PROXIES", fmt.Sprintf("%q is neither an IP nor a CIDR", p)}
		}
	}
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		return &Error{"MERCATO_SECRET_KEY", "must be at least 32 characters"}
	}
	if c.BodyLimit <= 0 {
		return &Error{"MERCATO_BODY_LIMIT", "must be positive"}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &Error{"MERCATO_LOG_LEVEL", "want debug, info, warn or error"}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return &Error{"MERCATO_LOG_FORMAT", "want json or text"}
	}
	return nil
}

// Usage writes every setting with its flag, environment name and default.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Settings (flag, environment, default):")
	for _, f := range fields() {
		def := f.Tag.Get("default")
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%-24s %-32s %s\n      %s\n", f.Tag.Get("flag"), f.Tag.Get("env"), def, f.Tag.Get("help"))
	}
}

// Masked returns "ENV=value" lines with passwords and secrets hidden, for the start-up log.
func (c Config) Masked() []string {
	v := reflect.ValueOf(c)
	var out []string
	for i, f := range fields() {
		val := fmt.Sprint(v.Field(i).Interface())
		switch f.Tag.Get("secret") {
		case "url":
			val = MaskURL(val)
		case "value":
			if val != "" {
				val = "****"
			}
		}
		out = append(out, f.Tag.Get("env")+"="+val)
	}
	return out
}

// MaskURL hides the password of a URL (as xxxxx); a string that is not a URL is returned unchanged.
func MaskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

func fields() []reflect.StructField {
	t := reflect.TypeFor[Config]()
	out := make([]reflect.StructField, t.NumField())
	for i := range out {
		out[i] = t.Field(i)
	}
	return out
}

// flagSet binds a flag to every field; flags set on the command line override what Load put there.
func flagSet(cfg *Config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mercato", flag.ContinueOnError)
	fs.SetOutput(out)
	v := reflect.ValueOf(cfg).Elem()
	for i, f := range fields() {
		fs.Func(f.Tag.Get("flag"), f.Tag.Get("help"), func(s string) error { return setField(v.Field(i), s) })
	}
	return fs
}

func setField(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(s)
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("want true or false")
		}
		f.SetBool(b)
	case int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("want a whole number")
		}
		f.SetInt(int64(n))
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("want a duration such as 20s")
		}
		f.SetInt(int64(d))
	default:
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}
