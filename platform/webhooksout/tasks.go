package webhooksout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/jobs"
	"mercato/platform/mail"
)

// The task kinds of outbound webhooks.
const (
	KindDeliver          = "webhooks.deliver"           // one attempt of one delivery
	KindEndpointDisabled = "webhooks.endpoint_disabled" // tell an endpoint's owners it was turned off
)

// deliverTimeout bounds one run of KindDeliver: the attempt's 10 s plus recording it, and
// below attemptLease so a run that is cut off has given its lease back before a retry.
const deliverTimeout = time.Minute

// deliverPayload is KindDeliver's data. At is when the attempt was due when the task was
// scheduled: a run that finds the delivery due at that very time but not yet (this worker's
// clock behind the one that scheduled it) must try again later instead of dropping the
// attempt, while a run that finds another due time is a stale duplicate whose successor is
// already scheduled.
type deliverPayload struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
	At         time.Time `json:"at"`
}

// disabledPayload is KindEndpointDisabled's data: the endpoint as it was when it was turned
// off (it holds no secret), and why.
type disabledPayload struct {
	Endpoint Endpoint `json:"endpoint"`
	Reason   string   `json:"reason"`
}

func deliverKind(h func(context.Context, jobs.Payload) error) jobs.Kind {
	return jobs.Kind{Name: KindDeliver, Queue: jobs.QueueDefault, Timeout: deliverTimeout, Handler: h}
}

func disabledKind(h func(context.Context, jobs.Payload) error) jobs.Kind {
	return jobs.Kind{Name: KindEndpointDisabled, Queue: jobs.QueueDefault, Handler: h}
}

// errNotDue makes a run that came before its attempt was due go back to the queue.
var errNotDue = errors.New("webhook delivery not due yet on this worker's clock")

// Kinds are the worker's task kinds for webhooks: KindDeliver makes one attempt of a
// delivery (a failed attempt is recorded and the next one scheduled; it is not a task
// error), and KindEndpointDisabled calls notify, which should tell the endpoint's owners
// (DisabledMail.Notify does, by e-mail). A nil notify tells nobody.
func (s *Service) Kinds(notify func(ctx context.Context, tenantID uuid.UUID, e Endpoint, reason string) error) []jobs.Kind {
	return []jobs.Kind{
		deliverKind(s.deliverTask),
		disabledKind(func(ctx context.Context, p jobs.Payload) error {
			var in disabledPayload
			if err := p.Decode(&in); err != nil {
				return err
			}
			if notify == nil {
				return nil
			}
			if err := notify(ctx, p.TenantID, in.Endpoint, in.Reason); err != nil {
				return fmt.Errorf("notify webhook endpoint %s disabled: %w", in.Endpoint.ID, err)
			}
			return nil
		}),
	}
}

func (s *Service) deliverTask(ctx context.Context, p jobs.Payload) error {
	var in deliverPayload
	if err := p.Decode(&in); err != nil {
		return err
	}
	if p.TenantID == uuid.Nil || in.DeliveryID == uuid.Nil {
		return jobs.SkipRetry(fmt.Errorf("%s: no tenant or delivery id", KindDeliver))
	}
	res, err := s.Deliver(ctx, p.TenantID, in.DeliveryID)
	switch {
	case errors.Is(err, ErrDeliveryNotFound):
		return nil // the endpoint was deleted with its log: nothing left to send
	case err != nil:
		return err // the database, or ErrDeliveryBusy: try again later
	}
	if !res.Attempted && res.Status == DeliveryPending && !res.RetryAt.IsZero() && !in.At.IsZero() &&
		res.RetryAt.Sub(in.At).Abs() < time.Second {
		return errNotDue
	}
	return nil
}

// JobsAdapter is the Jobs seam over platform/jobs: each call writes an outbox row in the
// caller's transaction, so a delivery and its task commit or roll back together, and the
// relay hands the row to asynq once committed. The tenant is the transaction's.
type JobsAdapter struct{}

var _ Jobs = JobsAdapter{}

// ScheduleDelivery enqueues KindDeliver for deliveryID, to run at at.
func (JobsAdapter) ScheduleDelivery(ctx context.Context, tx bun.IDB, _, deliveryID uuid.UUID, at time.Time) error {
	t := deliverKind(nil).Task(deliverPayload{DeliveryID: deliveryID, At: at})
	t.RunAt = at
	if _, err := jobs.Enqueue(ctx, tx, t); err != nil {
		return fmt.Errorf("schedule webhook delivery: %w", err)
	}
	return nil
}

// EndpointDisabled enqueues KindEndpointDisabled for e.
func (JobsAdapter) EndpointDisabled(ctx context.Context, tx bun.IDB, _ uuid.UUID, e Endpoint, reason string) error {
	if _, err := jobs.Enqueue(ctx, tx, disabledKind(nil).Task(disabledPayload{Endpoint: e, Reason: reason})); err != nil {
		return fmt.Errorf("enqueue webhook endpoint disabled: %w", err)
	}
	return nil
}

// MailRenderer renders one of platform/mail's events; *mail.Renderer is one.
type MailRenderer interface {
	Render(event, locale string, b mail.Branding, data any) (subject, text, html string, err error)
}

// MailSender sends one message; *mail.Sender is one.
type MailSender interface {
	Send(ctx context.Context, m mail.Message) error
}

// DisabledMail tells an endpoint's owners by e-mail (mail.EventWebhookDisabled) that it was
// turned off. Its Notify is the notify func Kinds takes.
type DisabledMail struct {
	Renderer MailRenderer
	Sender   MailSender
	// Recipients are the addresses to tell: for a tenant's endpoint (merchantID nil) the
	// tenant's owners and admins, for a merchant's the merchant's owners.
	Recipients func(ctx context.Context, tenantID uuid.UUID, merchantID *uuid.UUID) ([]string, error)
	// Branding is the tenant's mail branding; nil sends Mercato's.
	Branding func(ctx context.Context, tenantID uuid.UUID) (mail.Branding, error)
	// Locale is the tenant's language ("en", "zh-CN"); nil means English.
	Locale func(ctx context.Context, tenantID uuid.UUID) (string, error)
	// ConsoleURL is the console's absolute URL ("https://mercato.example/console"); the mail
	// links to the endpoint's page below it.
	ConsoleURL string
}

// Notify sends one message to every recipient: one SMTP transaction, so a retried task does
// not mail some of them twice. Nobody to tell is not an error. Errors: the lookups', the
// renderer's and the sender's.
func (m DisabledMail) Notify(ctx context.Context, tenantID uuid.UUID, e Endpoint, reason string) error {
	to, err := m.Recipients(ctx, tenantID, e.MerchantID)
	if err != nil {
		return fmt.Errorf("webhook disabled mail: recipients: %w", err)
	}
	if len(to) == 0 {
		return nil
	}
	var b mail.Branding
	if m.Branding != nil {
		if b, err = m.Branding(ctx, tenantID); err != nil {
			return fmt.Errorf("webhook disabled mail: branding: %w", err)
		}
	}
	locale := mail.LocaleEN
	if m.Locale != nil {
		if locale, err = m.Locale(ctx, tenantID); err != nil {
			return fmt.Errorf("webhook disabled mail: locale: %w", err)
		}
	}
	data := mail.WebhookDisabled{EndpointURL: e.URL, Reason: reason,
		SettingsURL: strings.TrimSuffix(m.ConsoleURL, "/") + "/webhooks/" + e.ID.String()}
	subject, text, html, err := m.Renderer.Render(mail.EventWebhookDisabled, locale, b, data)
	if err != nil {
		return fmt.Errorf("webhook disabled mail: %w", err)
	}
	if err := m.Sender.Send(ctx, mail.Message{To: to, Subject: subject, Text: text, HTML: html}); err != nil {
		return fmt.Errorf("webhook disabled mail: %w", err)
	}
	return nil
}
