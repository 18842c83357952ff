package devservices

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
)

func (s *Services) ensureStripe(ctx context.Context, o Options) error {
	dir := o.dataDir("stripe-mock")
	var bin string
	ports, err := s.ensureService(ctx, o, service{
		kind: stripeKind(),
		// stripe-mock v0.203.0 also opens HTTPS on *:12112 unless told where: keep that on
		// loopback too (nothing uses it).
		ports: []string{"http", "https"},
		healthy: func(ctx context.Context, ports map[string]int) error {
			return stripeAnswers(ctx, "http://"+loopback(ports["http"]))
		},
		prepare: func(ctx context.Context) (err error) {
			bin, err = ensureBinary(ctx, o, "stripe-mock", StripeMockModule, "stripe-mock", "under a minute")
			return err
		},
		launch: func(_ context.Context, ports map[string]int, detached bool) (*process, error) {
			args := []string{"-http-addr", loopback(ports["http"]), "-https-addr", loopback(ports["https"])}
			return spawn(bin, args, os.Environ(), filepath.Join(dir, "log"), detached)
		},
	})
	if err != nil {
		return err
	}
	s.StripeURL = "http://" + loopback(ports["http"])
	return nil
}

// stripeAnswers lists customers the way the Stripe adapter would, with stripe-mock's test key.
func stripeAnswers(ctx context.Context, base string) error {
	return httpOK(ctx, base+"/v1/customers", http.Header{"Authorization": {"Bearer sk_test_123"}})
}
