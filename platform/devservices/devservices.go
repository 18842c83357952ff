// Package devservices makes sure PostgreSQL, Redis, MinIO and stripe-mock are reachable on loopback for `mercato dev` and for tests.
//
// Everything it starts lives under the project root: binaries it builds in Root/.bin, data, logs,
// locks and state files in Root/.data/<service>/. A service started with Options.Detach outlives
// its caller and is reused by every later Ensure on the same root (test packages share one MinIO
// and one stripe-mock); StopDetached stops those. Without Detach, Services.Stop stops what Ensure
// started.
package devservices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// Pinned modules built into Root/.bin when the binary is missing.
const (
	MinIOModule      = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
	StripeMockModule = "github.com/stripe/stripe-mock@v0.203.0"
)

// Defaults tried before anything is started.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// Fixed credentials of the MinIO that Ensure starts. They only ever guard a loopback listener on
// a development machine; never use them anywhere else.
const (
	DevMinIOAccessKey = "mercato"
	DevMinIOSecretKey = "mercato-secret"
)

// Options says which services to ensure and where their files live.
type Options struct {
	Root        string // project root; binaries in Root/.bin, state in Root/.data. Empty: nearest directory with go.mod above the working directory
	PostgresURL string // superuser URL tried first; default DefaultPostgresURL
	RedisURL    string // default DefaultRedisURL
	MinIO       bool   // start/reuse MinIO
	Stripe      bool   // start/reuse stripe-mock
	Detach      bool   // processes this call starts keep running after the caller exits (tests); otherwise Stop() stops them (dev)
	Log         *slog.Logger

	// Seams for tests; nil means the real thing.
	findBinary func(name string) (string, error)
	install    func(ctx context.Context, pkg string) error
}

// Services is what answered. Its URLs point at loopback.
type Services struct {
	PostgresURL    string // superuser/admin URL that answered
	RedisURL       string
	MinIOEndpoint  string // host:port, e.g. 127.0.0.1:39123; empty unless Options.MinIO
	MinIOAccessKey string
	MinIOSecretKey string
	StripeURL      string // e.g. http://127.0.0.1:41234; empty unless Options.Stripe

	log   *slog.Logger
	mu    sync.Mutex
	owned []*owned // started (or adopted) by this Ensure and not detached: Stop stops them
}

// Ensure makes every requested service reachable, reusing what already answers and starting the
// rest. PostgreSQL and Redis are always ensured. On error nothing this call started keeps running
// unless it was detached and healthy.
func Ensure(ctx context.Context, o Options) (*Services, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Services{log: o.Log}

	steps := []func(context.Context, Options) error{s.ensurePostgres, s.ensureRedis}
	if o.MinIO {
		steps = append(steps, s.ensureMinIO)
	}
	if o.Stripe {
		steps = append(steps, s.ensureStripe)
	}
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() { errs[i] = step(ctx, o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if stopErr := s.Stop(); stopErr != nil {
			o.Log.Warn("stopping services after a failed Ensure", "err", stopErr)
		}
		return nil, err
	}
	return s, nil
}

// Stop stops the processes this Ensure started and did not detach, in reverse order of start.
// Instances that were reused, or started detached, keep running. Calling Stop again does nothing.
func (s *Services) Stop() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	owned := s.owned
	s.owned = nil
	s.mu.Unlock()
	var errs []error
	for i := len(owned) - 1; i >= 0; i-- {
		if err := owned[i].stop(s.log); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Services) own(o *owned) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owned = append(s.owned, o)
}

// StopDetached stops the detached processes recorded under root/.data (and instances whose
// owning process has died), for `task clean`. Instances owned by a live `mercato dev` are left
// alone.
func StopDetached(root string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "devservices")
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("devservices: stop detached: %w", err)
	}
	var errs []error
	for _, svc := range allServices() {
		if err := stopRecorded(root, svc, log); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// FindRoot returns the nearest directory at or above dir that holds go.mod.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find project root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("find project root: no go.mod at or above %s", dir)
		}
	}
}

func (o Options) withDefaults() (Options, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.Log = o.Log.With("component", "devservices")
	if o.Root == "" {
		root, err := FindRoot(".")
		if err != nil {
			return o, fmt.Errorf("devservices: %w (set Options.Root)", err)
		}
		o.Root = root
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return o, fmt.Errorf("devservices: root: %w", err)
	}
	o.Root = root
	if o.PostgresURL == "" {
		o.PostgresURL = DefaultPostgresURL
	}
	if o.RedisURL == "" {
		o.RedisURL = DefaultRedisURL
	}
	if o.findBinary == nil {
		o.findBinary = findSystemBinary
	}
	if o.install == nil {
		o.install = func(ctx context.Context, pkg string) error { return aptInstall(ctx, o.Log, pkg) }
	}
	return o, nil
}

func (o Options) dataDir(key string) string { return filepath.Join(o.Root, ".data", key) }
func (o Options) binDir() string            { return filepath.Join(o.Root, ".bin") }
