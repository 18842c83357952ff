package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"mercato/apps/demo"
	"mercato/platform/config"
	"mercato/platform/db"
	"mercato/platform/devservices"
	"mercato/platform/mail"
)

// dev runs the whole platform on one machine: it makes sure PostgreSQL, Redis, MinIO and
// stripe-mock answer on loopback (starting what is missing), creates the roles and database,
// migrates, loads the demo, then runs the API and the worker in this process until
// interrupted, and stops the services it started.
func dev(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	ln, err := listen(cfg)
	if err != nil {
		return err
	}
	defer ln.Close()

	fmt.Fprintln(out, "mercato dev: making sure PostgreSQL, Redis, MinIO and stripe-mock are running…")
	svc, err := devservices.Ensure(ctx, devservices.Options{
		Root: cfg.Root, PostgresURL: cfg.DatabaseAdminURL, RedisURL: cfg.RedisURL, MinIO: true, Stripe: true, Log: log,
	})
	if err != nil {
		return &setupError{"local services", err}
	}
	defer func() {
		if err := svc.Stop(); err != nil {
			log.Warn("stopping local services", "err", err)
		}
	}()
	cfg = withServices(cfg, svc)
	// A capturing SMTP server keeps every mail dev sends; the welcome says where it listens.
	capture, err := mail.Listen("127.0.0.1:0")
	if err != nil {
		return &setupError{"MERCATO_SMTP_URL", err}
	}
	defer capture.Close()
	cfg.SMTPURL = capture.URL()
	cfg.WebhooksAllowInsecure = true // dev's receivers are usually on this machine
	// A carrier on loopback, so shipments travel (and post webhooks) without the internet.
	if cfg.CarrierURL == "" {
		sim, err := startCarrierSim(ln.Addr(), log)
		if err != nil {
			return &setupError{"MERCATO_CARRIER_URL", err}
		}
		defer sim.Close()
		cfg.CarrierURL, cfg.CarrierSecret = sim.URL(), sim.Secret
	}
	if cfg.SecretKey == "" {
		if cfg.SecretKey, err = devSecretKey(cfg.Root); err != nil {
			return &setupError{"MERCATO_SECRET_KEY", err}
		}
	}

	if err := db.Bootstrap(ctx, cfg.DatabaseAdminURL, roles(cfg)); err != nil {
		return &setupError{"MERCATO_DATABASE_ADMIN_URL", err}
	}
	if err := migrate(ctx, cfg, "up", io.Discard); err != nil {
		return err
	}
	r, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	r.devMail = capture.Messages
	if err := r.blob.EnsureBucket(ctx); err != nil {
		return &setupError{"MERCATO_MINIO_ENDPOINT", err}
	}
	if err := loadDemo(ctx, r); err != nil {
		return err
	}
	w, err := newWorker(cfg, log, r)
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Shutdown()

	app, err := newAPI(ctx, cfg, log, r)
	if err != nil {
		return err
	}
	printWelcome(out, cfg, svc, ln.Addr())
	return serveHTTP(ctx, app, ln, cfg.ShutdownTimeout, log)
}

// withServices points the configuration at the services Ensure found or started.
func withServices(cfg config.Config, s *devservices.Services) config.Config {
	admin, err := url.Parse(s.PostgresURL)
	if err == nil {
		role := func(current, user string) string {
			u := *admin
			u.User = url.User(user)
			u.Path = "/mercato"
			if c, err := url.Parse(current); err == nil {
				if c.Path != "" && c.Path != "/" {
					u.Path = c.Path
				}
				if pw, ok := c.User.Password(); ok {
					u.User = url.UserPassword(user, pw)
				}
			}
			return u.String()
		}
		cfg.DatabaseAdminURL = s.PostgresURL
		cfg.DatabaseURL = role(cfg.DatabaseURL, "mercato_app")
		cfg.DatabaseOwnerURL = role(cfg.DatabaseOwnerURL, "mercato_owner")
		cfg.DatabasePlatformURL = role(cfg.DatabasePlatformURL, "mercato_platform")
	}
	cfg.RedisURL = s.RedisURL
	cfg.MinIOEndpoint, cfg.MinIOAccessKey, cfg.MinIOSecretKey, cfg.MinIOSecure = s.MinIOEndpoint, s.MinIOAccessKey, s.MinIOSecretKey, false
	cfg.StripeAPIBase = s.StripeURL
	return cfg
}

func printWelcome(out io.Writer, cfg config.Config, s *devservices.Services, addr net.Addr) {
	_, port, _ := net.SplitHostPort(addr.String())
	base := "http://localhost:" + port
	fmt.Fprintf(out, `
Mercato is running.

  Admin portal      %[1]s/admin
  Console           %[1]s/console
  API reference     %[1]s/docs      (OpenAPI: %[1]s/openapi.json)
  Health, metrics   %[1]s/readyz   %[1]s/metrics

Storefronts:
`, base)
	for _, t := range demo.Tenants {
		fmt.Fprintf(out, "  %-24s http://%s.%s:%s/\n", t.Name, t.Slug, cfg.BaseHost, port)
	}
	lumen := fmt.Sprintf("http://lumen.%s:%s", cfg.BaseHost, port)
	fmt.Fprintf(out, `
Try:
  search "pendnt" (a typo) at %[1]s/search, or 龙井 on Panda Market
  the flash sale at %[1]s/p/arc-brass-desk-lamp, coupon %[2]s in any cart
  orders in every state: sign in as %[3]s at %[1]s/account/orders
`, lumen, demo.Coupon, demo.Tenants[0].Shoppers[0])
	fmt.Fprintf(out, "\nDemo logins (password %q):\n", demo.Password)
	for _, st := range demo.Staff {
		where := st.PlatformRole + " → /admin (first sign-in enrols TOTP)"
		if st.PlatformRole == "" {
			where = st.Role + " of " + st.Tenant
			if st.Merchant != "" {
				where = st.Role + " of " + st.Merchant + " (" + st.Tenant + ")"
			}
			where += " → /console"
		}
		fmt.Fprintf(out, "  %-28s %s\n", st.Email, where)
	}
	shopper := demo.Tenants[0].Shoppers[0]
	var at []string
	for _, t := range demo.Tenants {
		if slices.Contains(t.Shoppers, shopper) {
			at = append(at, t.Slug)
		}
	}
	fmt.Fprintf(out, "  %-28s shopper at %s\n", shopper, strings.Join(at, ", "))
	fmt.Fprintf(out, `
Local services:
  PostgreSQL        %s
  Redis             %s
  MinIO             http://%s  (%s / %s)
  stripe-mock       %s
  SMTP (capturing)  %s  (mail kept: /admin/dev/mail; queues: /admin/queues)
  Carrier API       %s  (simulated: labels advance a stage every %s; numbers ending FAIL or RTS fail)

Press Ctrl+C to stop.
`, config.MaskURL(cfg.DatabaseURL), s.RedisURL, s.MinIOEndpoint, s.MinIOAccessKey, s.MinIOSecretKey, s.StripeURL, cfg.SMTPURL,
		cfg.CarrierURL, devCarrierStep)
}

// services starts the local services detached, so that tests and later dev runs reuse them,
// and prints where they are; "stop" stops them.
func services(ctx context.Context, cfg config.Config, sub string, log *slog.Logger, out io.Writer) error {
	if sub == "stop" {
		return devservices.StopDetached(cfg.Root, log)
	}
	svc, err := devservices.Ensure(ctx, devservices.Options{Root: cfg.Root, MinIO: true, Stripe: true, Detach: true, Log: log})
	if err != nil {
		return &setupError{"local services", err}
	}
	fmt.Fprintf(out, "PostgreSQL   %s\nRedis        %s\nMinIO        http://%s (%s / %s)\nstripe-mock  %s\n",
		svc.PostgresURL, svc.RedisURL, svc.MinIOEndpoint, svc.MinIOAccessKey, svc.MinIOSecretKey, svc.StripeURL)
	return nil
}

// devSecretKey reads the development secret from .data/secret-key, making it on first use, so
// sessions and stored secrets survive restarts of dev.
func devSecretKey(root string) (string, error) {
	path := filepath.Join(root, ".data", "secret-key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return string(b), nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	key := hex.EncodeToString(buf)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return key, os.WriteFile(path, []byte(key), 0o600)
}
