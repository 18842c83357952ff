package merchants

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/jobs"
)

// KindApproved tells a merchant it may sell now. It is enqueued in the transaction that
// approves the merchant, so the mail goes out exactly when the approval commits.
const KindApproved = "merchants.approved"

type approvedPayload struct {
	MerchantID uuid.UUID `json:"merchant_id"`
}

func enqueueApproved(ctx context.Context, tx bun.IDB, merchantID uuid.UUID) error {
	_, err := jobs.Enqueue(ctx, tx, jobs.Task{Kind: KindApproved, Payload: approvedPayload{MerchantID: merchantID}, Queue: jobs.QueueDefault})
	return err
}

// Kinds are the merchant slice's task kinds; tell sends the "you are approved" message to the
// merchant's contact (the notifications wiring renders and mails it).
func (s *Service) Kinds(tell func(ctx context.Context, tenantID uuid.UUID, m Merchant) error) []jobs.Kind {
	return []jobs.Kind{{
		Name: KindApproved, Queue: jobs.QueueDefault, Timeout: time.Minute, MaxRetry: 10,
		Handler: func(ctx context.Context, p jobs.Payload) error {
			var in approvedPayload
			if err := p.Decode(&in); err != nil {
				return err
			}
			m, err := s.Get(ctx, p.TenantID, in.MerchantID)
			if err != nil {
				return jobs.SkipRetry(fmt.Errorf("approved merchant %s: %w", in.MerchantID, err)) // gone: nothing to tell
			}
			if m.Status != StatusActive || m.ContactEmail == "" {
				return nil // suspended again since, or nobody to tell
			}
			return tell(ctx, p.TenantID, m)
		},
	}}
}
