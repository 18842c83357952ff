// Command mercato is the whole platform in one binary: the API server, the worker, the
// migrations, the demo seed and a one-command development environment. It is the only
// composition root: configuration is read and every dependency is wired here.
package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"mercato/apps/admin"
	"mercato/apps/api"
	"mercato/apps/console"
	"mercato/apps/demo"
	"mercato/apps/storefront"
	"mercato/apps/worker"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/blob"
	"mercato/platform/config"
	"mercato/platform/db"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/jobs"
	"mercato/platform/mail"
	"mercato/platform/scope"
	"mercato/platform/webhooksout"
	"mercato/tenants"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/fulfillment"
	"mercato/tenants/inventory"
	"mercato/tenants/merchants"
	"mercato/tenants/search"
	"mercato/tenants/staff"
)

const usage = `mercato: a multi-tenant marketplace platform

Usage: mercato <command> [flags]

Commands:
  dev                     start local services, migrate, seed the demo, run API + worker; print URLs
  serve                   run the HTTP server (/v1 API, /docs, /readyz, /metrics)
  worker                  run the background worker and scheduler
  migrate up|down|status  apply, roll back or list database migrations
  seed                    load the demo marketplace (idempotent)
  audit verify --tenant X check tenant X's audit hash chain (id, slug or "platform"); exit 1 if broken
  search reindex          rewrite every product's search document from the catalog (triggers
                          keep them current; this repairs a database loaded around them)
  services [stop]         start local PostgreSQL, Redis, MinIO and stripe-mock in the background
                          (reused by dev and tests) and print their URLs; stop stops them
  version                 print the version

`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// setupError is a problem with the configuration or the environment the binary was given;
// it exits 2 with one line that names the setting to fix.
type setupError struct {
	setting string
	err     error
}

func (e *setupError) Error() string { return e.setting + ": " + e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		config.Usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "mercato", version())
		return 0
	case "serve", "worker", "migrate", "seed", "dev", "services", "audit", "search":
	default:
		fmt.Fprintf(stderr, "mercato: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	for _, a := range rest {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprint(stdout, usage)
			config.Usage(stdout)
			return 0
		}
	}
	sub := ""
	if cmd == "services" && len(rest) > 0 && rest[0] == "stop" {
		sub, rest = "stop", rest[1:]
	}
	if cmd == "migrate" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fmt.Fprintln(stderr, "mercato: migrate needs up, down or status")
			return 2
		}
		sub, rest = rest[0], rest[1:]
	}
	if cmd == "search" {
		if len(rest) == 0 || rest[0] != "reindex" {
			fmt.Fprintln(stderr, "mercato: search needs reindex")
			return 2
		}
		sub, rest = rest[0], rest[1:]
	}
	var auditTenant string
	if cmd == "audit" {
		if len(rest) == 0 || rest[0] != "verify" {
			fmt.Fprintln(stderr, "mercato: audit needs verify --tenant <id|slug|platform>")
			return 2
		}
		sub, rest = rest[0], rest[1:]
		if auditTenant, rest = takeFlag(rest, "tenant"); auditTenant == "" {
			fmt.Fprintln(stderr, "mercato: audit verify needs --tenant <id|slug|platform>")
			return 2
		}
	}
	cfg, err := config.Load(rest, getenv)
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Fprintf(stderr, "mercato: %s: %s\n", ce.Setting, ce.Reason)
		return 2
	}
	log := newLogger(cfg, stderr)
	log.Info("starting", "command", strings.TrimSpace(cmd+" "+sub), "version", version(), "config", cfg.Masked())

	switch cmd {
	case "serve":
		err = serve(ctx, cfg, log)
	case "worker":
		err = runWorker(ctx, cfg, log)
	case "migrate":
		err = migrate(ctx, cfg, sub, stdout)
	case "seed":
		err = seed(ctx, cfg)
	case "dev":
		err = dev(ctx, cfg, log, stdout)
	case "services":
		err = services(ctx, cfg, sub, log, stdout)
	case "audit":
		err = auditVerify(ctx, cfg, auditTenant, stdout)
	case "search":
		err = reindexSearch(ctx, cfg, stdout)
	}
	var se *setupError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &se):
		fmt.Fprintf(stderr, "mercato: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "mercato: %v\n", err)
		return 1
	}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
	}
	return "dev"
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// runtime holds the connections serve, worker and dev share.
type runtime struct {
	db       *db.DB
	platform *db.Platform
	redis    redis.UniversalClient
	// limiterRedis answers rate-limit decisions; its short timeouts let a hung Redis cost a
	// request 250 ms rather than seconds (the limiter then lets requests through).
	limiterRedis redis.UniversalClient
	blob         *blob.Store
	// mailer renders identity's mail (password resets, staff invitations) with the tenant's
	// branding and sends it over SMTP.
	mailer identity.Mailer
	// mailSender and mailRenderer send the platform's own mail (webhook endpoint disabled).
	mailSender   *mail.Sender
	mailRenderer *mail.Renderer
	// devMail lists what dev's capturing SMTP server kept; nil outside dev.
	devMail func() []mail.Captured
}

func (r *runtime) Close() {
	if r.db != nil {
		r.db.Close()
	}
	if r.platform != nil {
		r.platform.Close()
	}
	if r.redis != nil {
		r.redis.Close()
	}
	if r.limiterRedis != nil {
		r.limiterRedis.Close()
	}
}

// connect opens what the processes need. PostgreSQL must answer now; Redis and MinIO may be
// down at start (readiness reports them) because acknowledged work waits in PostgreSQL.
func connect(ctx context.Context, cfg config.Config) (*runtime, error) {
	r := &runtime{}
	var err error
	if r.db, err = db.Open(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns); err != nil {
		return nil, &setupError{"MERCATO_DATABASE_URL", err}
	}
	if r.platform, err = db.OpenPlatform(ctx, cfg.DatabasePlatformURL, 4); err != nil {
		r.Close()
		return nil, &setupError{"MERCATO_DATABASE_PLATFORM_URL", err}
	}
	if r.redis, r.limiterRedis, err = redisClients(cfg.RedisURL); err != nil {
		r.Close()
		return nil, &setupError{"MERCATO_REDIS_URL", err}
	}
	sender, err := mail.NewSender(cfg.SMTPURL, mail.SenderOptions{From: cfg.MailFrom})
	if err != nil {
		r.Close()
		return nil, &setupError{"MERCATO_SMTP_URL", err}
	}
	renderer, err := mail.NewRenderer()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	r.mailer = mail.IdentityMailer{Sender: sender, Renderer: renderer, Branding: tenantBranding(r.db, cfg.PublicURL)}
	r.mailSender, r.mailRenderer = sender, renderer
	if r.blob, err = blob.Open(blob.Options{Endpoint: cfg.MinIOEndpoint, AccessKey: cfg.MinIOAccessKey,
		SecretKey: cfg.MinIOSecretKey, Bucket: cfg.MinIOBucket, Secure: cfg.MinIOSecure}); err != nil {
		r.Close()
		return nil, &setupError{"MERCATO_MINIO_ENDPOINT", err}
	}
	return r, nil
}

// listen takes the HTTP port first, so a port in use fails before anything else starts.
func listen(cfg config.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, &setupError{"MERCATO_HTTP_ADDR", fmt.Errorf("cannot listen on %s: %w", cfg.HTTPAddr, err)}
	}
	return ln, nil
}

// newIdentity builds the credential service both the API and the worker use.
func newIdentity(cfg config.Config, r *runtime) (*identity.Service, error) {
	if cfg.SecretKey == "" {
		return nil, &setupError{"MERCATO_SECRET_KEY", errors.New("required: at least 32 random characters")}
	}
	ids, err := identity.New(r.db, identity.Config{
		SecretKey:     cfg.SecretKey,
		Issuer:        cfg.PublicURL,
		SecureCookies: strings.HasPrefix(cfg.PublicURL, "https://"),
		Mailer:        r.mailer,
		// Merging a guest's cart moves lines; it prices nothing, so it needs no catalog.
		MergeGuest: cart.NewService(r.db, nil, nil).MergeGuest,
	})
	if err != nil {
		return nil, &setupError{"MERCATO_SECRET_KEY", err}
	}
	return ids, nil
}

// newAPI wires the HTTP server from the runtime's connections.
func newAPI(ctx context.Context, cfg config.Config, log *slog.Logger, r *runtime) (*fiber.App, error) {
	ids, err := newIdentity(cfg, r)
	if err != nil {
		return nil, err
	}
	enforcer, err := authz.NewEnforcer(nil)
	if err != nil {
		return nil, fmt.Errorf("authorization policy: %w", err)
	}
	policies, err := authz.NewPolicies(ctx)
	if err != nil {
		return nil, fmt.Errorf("rego policies: %w", err)
	}
	cors, err := httpx.CORS(commaList(cfg.CORSOrigins))
	if err != nil {
		return nil, &setupError{"MERCATO_CORS_ORIGINS", err}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	flashKey, err := hkdf.Key(sha256.New, []byte(cfg.SecretKey), nil, "mercato flash", 32)
	if err != nil {
		return nil, err
	}
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil || pub.Host == "" {
		return nil, &setupError{"MERCATO_PUBLIC_URL", fmt.Errorf("want an absolute URL, got %q", cfg.PublicURL)}
	}
	secure := pub.Scheme == "https"
	storefrontURL := func(slug string) string {
		host := slug + "." + cfg.BaseHost
		if p := pub.Port(); p != "" {
			host += ":" + p
		}
		return pub.Scheme + "://" + host
	}
	tenantSvc := tenants.NewService(r.db, cfg.BaseHost)
	webhooks, err := newWebhooks(cfg, r)
	if err != nil {
		return nil, err
	}
	directory := tenants.NewDirectory(r.platform, cfg.BaseHost)
	plans := tenants.NewPlanPolicy(policies)
	merchantSvc := merchants.NewService(r.db, plans, audit.Recorder{})
	staffSvc := staff.NewService(r.db, staff.Config{Accounts: ids, Audit: audit.Recorder{}, Mailer: r.mailer, Permissions: enforcer,
		SetPasswordURL: cfg.PublicURL + "/console/set-password", ConsoleURL: cfg.PublicURL + "/console", Seats: plans})
	queues, err := jobs.Redis(cfg.RedisURL)
	if err != nil {
		return nil, &setupError{"MERCATO_REDIS_URL", err}
	}
	shop := newCommerce(r, policies)
	promoSvc, orderSvc, cartSvc := shop.promos, shop.orders, shop.carts
	fulfilSvc := newFulfillment(cfg, r, orderSvc)
	searchSvc := search.NewService(r.db)
	portals := []func(*fiber.App, api.RateLimitFunc) error{
		func(app *fiber.App, limit api.RateLimitFunc) error {
			return storefront.Routes(app, storefront.Deps{Identity: ids, Tenants: tenantSvc, Merchants: merchantSvc,
				FlashKey: flashKey, BaseHost: cfg.BaseHost, HTTPS: secure, Log: log,
				FormLimit: limit("storefront", httpx.Limit{Rate: 10, Per: time.Minute, Burst: 20}),
				Search:    searchSvc, Catalog: catalog.NewService(r.db, policies, audit.Recorder{}), Promotions: promoSvc, Blob: r.blob,
				Fulfillment: fulfilSvc, Cart: cartSvc, Orders: orderSvc})
		},
		func(app *fiber.App, limit api.RateLimitFunc) error {
			app.Use(admin.Prefix, limit("admin", httpx.Limit{Rate: 30, Per: time.Minute, Burst: 30}),
				identity.Authenticate(ids, identity.StaffCookie), identity.RequireCSRF(ids))
			return admin.Routes(app, admin.Deps{Identity: ids, Enforcer: enforcer, Directory: directory, Tenants: tenantSvc,
				Platform: r.platform, FlashKey: flashKey, Log: log, BaseHost: cfg.BaseHost, PublicPort: pub.Port(),
				SecureCookies: secure, StorefrontURL: func(slug string) string { return storefrontURL(slug) + "/" },
				Queues: queues, DevMail: r.devMail, Promotions: promoSvc})
		},
		func(app *fiber.App, limit api.RateLimitFunc) error {
			app.Use(console.Prefix, limit("console", httpx.Limit{Rate: 30, Per: time.Minute, Burst: 30}),
				identity.Authenticate(ids, identity.StaffCookie))
			return console.Routes(app, console.Deps{Identity: ids, Enforcer: enforcer, Tenants: tenantSvc, Merchants: merchantSvc,
				Staff: staffSvc, Webhooks: webhooks, DB: r.db, Mailer: r.mailer, FlashKey: flashKey, BaseHost: pub.Host, SecureCookies: secure, Log: log,
				StorefrontURL: func(t tenants.Tenant) string { return storefrontURL(t.Slug) },
				Catalog:       catalog.NewService(r.db, policies, audit.Recorder{}), Inventory: inventory.NewService(r.db, audit.Recorder{}), Blob: r.blob,
				Fulfillment: fulfilSvc, Promotions: promoSvc, Orders: orderSvc})
		},
	}
	return api.New(api.Deps{
		Log:            log,
		DB:             r.db,
		Identity:       ids,
		Enforcer:       enforcer,
		Tenants:        tenantSvc,
		Directory:      directory,
		Merchants:      merchantSvc,
		Staff:          staffSvc,
		Inventory:      inventory.NewService(r.db, audit.Recorder{}),
		Catalog:        catalog.NewService(r.db, policies, audit.Recorder{}),
		Promotions:     promoSvc,
		Search:         searchSvc,
		Cart:           cartSvc,
		Orders:         orderSvc,
		Fulfillment:    fulfilSvc,
		Webhooks:       webhooks,
		Portals:        portals,
		Limiter:        httpx.NewRateLimiter(r.limiterRedis, "mercato:rl:"),
		CORS:           cors,
		HTTPS:          secure,
		TrustedProxies: commaList(cfg.TrustedProxies),
		Metrics:        reg,
		Version:        version(),
		BodyLimit:      cfg.BodyLimit,
		Checks: map[string]api.Check{
			"postgres": r.db.Ping,
			"migrations": func(ctx context.Context) error {
				n, err := r.db.PendingMigrations(ctx)
				if err == nil && n > 0 {
					err = fmt.Errorf("%d migrations pending; run mercato migrate up", n)
				}
				return err
			},
			"redis": func(ctx context.Context) error { return r.redis.Ping(ctx).Err() },
			"minio": r.blob.Ping,
		},
	})
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	ln, err := listen(cfg)
	if err != nil {
		return err
	}
	defer ln.Close()
	r, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	app, err := newAPI(ctx, cfg, log, r)
	if err != nil {
		return err
	}
	return serveHTTP(ctx, app, ln, cfg.ShutdownTimeout, log)
}

// serveHTTP serves until ctx ends, then lets in-flight requests finish.
func serveHTTP(ctx context.Context, app *fiber.App, ln net.Listener, grace time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	log.Info("http server listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down http server", "grace", grace.String())
	if err := app.ShutdownWithTimeout(grace); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

func newWorker(cfg config.Config, log *slog.Logger, r *runtime) (*worker.Worker, error) {
	ropt, err := jobs.Redis(cfg.RedisURL)
	if err != nil {
		return nil, &setupError{"MERCATO_REDIS_URL", err}
	}
	ids, err := newIdentity(cfg, r)
	if err != nil {
		return nil, err
	}
	webhooks, err := newWebhooks(cfg, r)
	if err != nil {
		return nil, err
	}
	staffSvc := staff.NewService(r.db, staff.Config{Accounts: ids, Audit: audit.Recorder{}, Mailer: r.mailer,
		SetPasswordURL: cfg.PublicURL + "/console/set-password", ConsoleURL: cfg.PublicURL + "/console"})
	tenantSvc := tenants.NewService(r.db, cfg.BaseHost)
	disabledMail := webhooksout.DisabledMail{Renderer: r.mailRenderer, Sender: r.mailSender,
		Recipients: ownerEmails(staffSvc), Branding: tenantBranding(r.db, cfg.PublicURL),
		Locale: func(ctx context.Context, id uuid.UUID) (string, error) {
			t, err := tenantSvc.Get(ctx, id)
			return t.DefaultLocale, err
		},
		ConsoleURL: strings.TrimSuffix(cfg.PublicURL, "/") + "/console"}
	policies, err := authz.NewPolicies(context.Background())
	if err != nil {
		return nil, fmt.Errorf("rego policies: %w", err)
	}
	merchantSvc := merchants.NewService(r.db, tenants.NewPlanPolicy(policies), audit.Recorder{})
	shop := newCommerce(r, policies)
	return worker.New(worker.Deps{Log: log, Redis: ropt, Platform: r.platform, PlatformURL: cfg.DatabasePlatformURL,
		Identity: ids, ShutdownTimeout: cfg.ShutdownTimeout, Webhooks: webhooks, NotifyWebhookDisabled: disabledMail.Notify,
		Merchants: merchantSvc, TellMerchantApproved: tellMerchantApproved(r, tenantSvc, cfg.PublicURL),
		Orders: shop.orders, TellPaid: tellPaid(r, tenantSvc, ownerEmails(staffSvc), cfg),
		Fulfillment: newFulfillment(cfg, r, shop.orders),
		TellShopper: tellShopper(r, tenantSvc, cfg)})
}

// newWebhooks builds the outbound webhook service the API, the console and the worker share:
// deliveries are scheduled through the outbox (JobsAdapter).
func newWebhooks(cfg config.Config, r *runtime) (*webhooksout.Service, error) {
	var g webhooksout.Guard // production: https, public addresses only
	if cfg.WebhooksAllowInsecure {
		g.AllowInsecure, g.AllowLoopback = true, true
	}
	s, err := webhooksout.New(r.db, webhooksout.Config{SecretKey: cfg.SecretKey, Guard: g, Jobs: webhooksout.JobsAdapter{}, Audit: audit.Recorder{}})
	if err != nil {
		return nil, &setupError{"MERCATO_SECRET_KEY", err}
	}
	return s, nil
}

// ownerEmails are who hears about a tenant's or a merchant's business (a disabled webhook
// endpoint, a new order): the tenant's owners and administrators (merchantID nil), or the
// merchant's store owners.
func ownerEmails(staffSvc *staff.Service) func(context.Context, uuid.UUID, *uuid.UUID) ([]string, error) {
	return func(ctx context.Context, tenantID uuid.UUID, merchantID *uuid.UUID) ([]string, error) {
		members, err := staffSvc.List(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		var to []string
		for _, m := range members {
			switch {
			case merchantID == nil && (m.Role == staff.RoleTenantOwner || m.Role == staff.RoleTenantAdmin),
				merchantID != nil && m.Role == staff.RoleMerchantOwner && m.MerchantID != nil && *m.MerchantID == *merchantID:
				to = append(to, m.Email)
			}
		}
		return to, nil
	}
}

func runWorker(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	r, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := newWorker(cfg, log, r)
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Shutdown()
	return nil
}

func migrate(ctx context.Context, cfg config.Config, sub string, out io.Writer) error {
	if sub != "up" && sub != "down" && sub != "status" {
		return &setupError{"migrate", fmt.Errorf("unknown subcommand %q: want up, down or status", sub)}
	}
	if sub == "up" && cfg.DatabaseAdminURL != "" {
		if err := db.Bootstrap(ctx, cfg.DatabaseAdminURL, roles(cfg)); err != nil {
			return &setupError{"MERCATO_DATABASE_ADMIN_URL", err}
		}
	}
	m, err := db.OpenMigrator(ctx, cfg.DatabaseOwnerURL)
	if err != nil {
		return &setupError{"MERCATO_DATABASE_OWNER_URL", err}
	}
	defer m.Close()
	switch sub {
	case "up", "down":
		apply := m.Up
		if sub == "down" {
			apply = m.Down
		}
		names, err := apply(ctx)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintf(out, "migrate %s: nothing to do\n", sub)
		}
		for _, n := range names {
			fmt.Fprintf(out, "migrate %s: %s\n", sub, n)
		}
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(out, "%-8s %s_%s\n", state, s.Name, s.Comment)
		}
	}
	return nil
}

func roles(cfg config.Config) db.Roles {
	return db.Roles{OwnerURL: cfg.DatabaseOwnerURL, AppURL: cfg.DatabaseURL, PlatformURL: cfg.DatabasePlatformURL}
}

func seed(ctx context.Context, cfg config.Config) error {
	r, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.blob.EnsureBucket(ctx); err != nil {
		return &setupError{"MERCATO_MINIO_ENDPOINT", err}
	}
	return loadDemo(ctx, r)
}

// loadDemo writes the demo marketplace: accounts through the platform's audited entry point,
// the catalog through the same services a merchant's console uses.
func loadDemo(ctx context.Context, r *runtime) error {
	ctx = scope.WithActor(ctx, "system:seed")
	if err := demo.Load(ctx, r.platform); err != nil {
		return fmt.Errorf("load demo: %w", err)
	}
	policies, err := authz.NewPolicies(ctx)
	if err != nil {
		return fmt.Errorf("rego policies: %w", err)
	}
	shop := newCommerce(r, policies)
	err = demo.LoadCatalog(ctx, demo.CatalogDeps{Platform: r.platform, DB: r.db, Blob: r.blob,
		Catalog: catalog.NewService(r.db, policies, audit.Recorder{}), Inventory: inventory.NewService(r.db, audit.Recorder{}),
		Promotions: shop.promos})
	if err != nil {
		return fmt.Errorf("load demo catalog: %w", err)
	}
	// Orders are shipped with the manual carrier only: the demo must not depend on a carrier
	// being up while it loads.
	err = demo.LoadOrders(ctx, demo.OrderDeps{Platform: r.platform, DB: r.db, Orders: shop.orders, Carts: shop.carts,
		Fulfillment: fulfillment.NewService(r.db, fulfillment.Config{Audit: audit.Recorder{}, Orders: shop.orders, Platform: r.platform})})
	if err != nil {
		return fmt.Errorf("load demo orders: %w", err)
	}
	return nil
}

// reindexSearch is `mercato search reindex`.
func reindexSearch(ctx context.Context, cfg config.Config, out io.Writer) error {
	p, err := db.OpenPlatform(ctx, cfg.DatabasePlatformURL, 2)
	if err != nil {
		return &setupError{"MERCATO_DATABASE_PLATFORM_URL", err}
	}
	defer p.Close()
	n, err := search.Reindex(scope.WithActor(ctx, "system:search-reindex"), p)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "search reindex: %d documents\n", n)
	return nil
}

// auditVerify is `mercato audit verify --tenant X`; a broken chain exits 1.
func auditVerify(ctx context.Context, cfg config.Config, tenant string, out io.Writer) error {
	p, err := db.OpenPlatform(ctx, cfg.DatabasePlatformURL, 2)
	if err != nil {
		return &setupError{"MERCATO_DATABASE_PLATFORM_URL", err}
	}
	defer p.Close()
	ok, err := audit.VerifyCommand(scope.WithActor(ctx, "system:audit-verify"), p, tenant, out)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("audit chain of %s is broken", tenant)
	}
	return nil
}

// takeFlag removes "--name value" or "--name=value" (one or two dashes) from args and returns
// the value, so config.Load does not see a flag it does not know.
func takeFlag(args []string, name string) (string, []string) {
	for i, a := range args {
		for _, p := range []string{"--" + name, "-" + name} {
			switch {
			case a == p && i+1 < len(args):
				return args[i+1], append(args[:i:i], args[i+2:]...)
			case strings.HasPrefix(a, p+"="):
				return a[len(p)+1:], append(args[:i:i], args[i+1:]...)
			}
		}
	}
	return "", args
}

// tenantBranding gives mail the tenant's name, colour and logo.
func tenantBranding(d *db.DB, publicURL string) func(context.Context, uuid.UUID) (mail.Branding, error) {
	return func(ctx context.Context, id uuid.UUID) (mail.Branding, error) {
		var row struct {
			Name  string            `bun:"name"`
			Theme map[string]string `bun:"theme,type:jsonb"`
		}
		err := d.WithTenant(ctx, id, func(tx bun.IDB) error {
			return tx.NewRaw("SELECT name, theme FROM tenants WHERE id = ?", id).Scan(ctx, &row)
		})
		if err != nil {
			return mail.Branding{}, err
		}
		logo := row.Theme["logo_url"]
		if logo != "" {
			logo = strings.TrimSuffix(publicURL, "/") + logo // the theme holds a site path; mail needs an absolute URL
		}
		return mail.Branding{Name: row.Name, Colour: row.Theme["primary"], LogoURL: logo}, nil
	}
}

// redisClients makes the Redis clients of the API from MERCATO_REDIS_URL, in every form jobs
// understands (single server, Sentinel, Cluster): one for readiness and queues, and one for
// rate limits whose short timeouts let a hung Redis cost a request milliseconds, not seconds
// (the limiter then lets requests through).
func redisClients(url string) (main, limiter redis.UniversalClient, err error) {
	opt, err := jobs.Redis(url)
	if err != nil {
		return nil, nil, err
	}
	const dial, rw = 200 * time.Millisecond, 100 * time.Millisecond
	var fast asynq.RedisConnOpt
	switch o := opt.(type) {
	case asynq.RedisClientOpt:
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = dial, rw, rw
		fast = o
	case asynq.RedisFailoverClientOpt:
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = dial, rw, rw
		fast = o
	case asynq.RedisClusterClientOpt:
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = dial, rw, rw
		fast = o
	default:
		fast = opt
	}
	main, ok1 := opt.MakeRedisClient().(redis.UniversalClient)
	limiter, ok2 := fast.MakeRedisClient().(redis.UniversalClient)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("unsupported redis client for %s", config.MaskURL(url))
	}
	return main, limiter, nil
}

// tellMerchantApproved mails a merchant's contact that the marketplace approved it, in the
// tenant's language and branding.
func tellMerchantApproved(r *runtime, ts *tenants.Service, publicURL string) func(context.Context, uuid.UUID, merchants.Merchant) error {
	branding := tenantBranding(r.db, publicURL)
	return func(ctx context.Context, tenantID uuid.UUID, m merchants.Merchant) error {
		t, err := ts.Get(ctx, tenantID)
		if err != nil {
			return err
		}
		b, err := branding(ctx, tenantID)
		if err != nil {
			return err
		}
		subject, text, html, err := r.mailRenderer.Render(mail.EventMerchantApproved, t.DefaultLocale, b, mail.MerchantApproved{
			MerchantName: m.Name, Note: m.DecisionNote, ConsoleURL: strings.TrimSuffix(publicURL, "/") + "/console/login"})
		if err != nil {
			return err
		}
		return r.mailSender.Send(ctx, mail.Message{To: []string{m.ContactEmail}, Subject: subject, Text: text, HTML: html})
	}
}

// commaList splits a comma-separated setting, dropping blanks.
func commaList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
