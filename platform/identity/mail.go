package identity

import (
	"context"
	"slices"
	"sync"

	"github.com/google/uuid"
)

// Message is one e-mail this package asks to be sent.
type Message struct {
	TenantID uuid.UUID // whose storefront it is from; uuid.Nil for platform mail
	To       string
	Subject  string
	Text     string
}

// Mailer sends mail. The notifications work will provide one that goes through SMTP (and the
// outbox); until then CaptureMailer keeps messages for the dev mail page and tests.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// CaptureMailer keeps messages in memory instead of sending them: the latest 1,000, so a
// long-running dev server does not grow without bound. The zero value is ready to use.
type CaptureMailer struct {
	mu   sync.Mutex
	msgs []Message
}

const captureLimit = 1000

var _ Mailer = (*CaptureMailer)(nil)

// Send records m.
func (c *CaptureMailer) Send(_ context.Context, m Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.msgs) >= captureLimit {
		c.msgs = slices.Delete(c.msgs, 0, len(c.msgs)-captureLimit+1)
	}
	c.msgs = append(c.msgs, m)
	return nil
}

// Messages returns the messages sent so far, oldest first.
func (c *CaptureMailer) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}
