package tenants_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/fault"
	"mercato/platform/scope"
	"mercato/tenants"
)

// Settings: validated field by field, stored without touching other keys (a logo), audited,
// and only in the tenant asked for.
func TestSettings(t *testing.T) {
	f, s := setup(t)
	ctx := scope.WithActor(context.Background(), "user:test")
	ids := map[string]uuid.UUID{}
	if err := f.Platform.Do(ctx, "test.read", func(tx bun.IDB) error {
		var rows []struct {
			Slug string    `bun:"slug"`
			ID   uuid.UUID `bun:"id"`
		}
		if err := tx.NewRaw("SELECT slug, id FROM tenants").Scan(ctx, &rows); err != nil {
			return err
		}
		for _, r := range rows {
			ids[r.Slug] = r.ID
		}
		_, err := tx.ExecContext(ctx, `UPDATE tenants SET theme = theme || '{"logo_url": "/media/lumen.png"}' WHERE slug = 'lumen'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	lumen := ids["lumen"]
	got, err := s.Settings(ctx, lumen)
	if err != nil || got != (tenants.Settings{RequireListingReview: true, DefaultLocale: "en", Primary: "#1f6feb", Accent: "#f59e0b"}) {
		t.Fatalf("settings %+v %v", got, err)
	}
	_, err = s.UpdateSettings(ctx, lumen, tenants.Settings{DefaultLocale: "fr", Primary: "blue", Accent: "#12345"})
	if fe := fault.As(err); fe == nil || len(fe.Fields) != 3 {
		t.Errorf("invalid settings: %v", err)
	}
	want := tenants.Settings{AutoApproveMerchants: true, DefaultLocale: "zh-CN", Primary: "#0f766e"}
	if got, err := s.UpdateSettings(ctx, lumen, tenants.Settings{AutoApproveMerchants: true, DefaultLocale: "zh-CN", Primary: " #0F766E "}); err != nil || got != want {
		t.Fatalf("update: %+v %v", got, err)
	}
	tn, err := s.Get(ctx, lumen)
	if err != nil || tn.Theme["logo_url"] != "/media/lumen.png" || tn.Theme["accent"] != "" || tn.DefaultLocale != "zh-CN" {
		t.Errorf("stored tenant %+v %v", tn, err)
	}
	if got, _ := s.Settings(ctx, lumen); got != want {
		t.Errorf("read back %+v", got)
	}
	if other, _ := s.Settings(ctx, ids["panda"]); other.AutoApproveMerchants || other.Primary != "#c8102e" {
		t.Errorf("another tenant changed: %+v", other)
	}
	if _, err := s.UpdateSettings(ctx, uuid.New(), want); fault.As(err) == nil || fault.As(err).Kind != fault.NotFound {
		t.Errorf("unknown tenant: %v", err)
	}
	var entries []audit.Logged
	if err := f.App.WithTenant(ctx, lumen, func(tx bun.IDB) error {
		p, err := audit.List(ctx, tx, audit.Filter{Action: "tenant.update_settings"})
		entries = p.Items
		return err
	}); err != nil || len(entries) != 1 || entries[0].Actor != "user:test" {
		t.Errorf("audit entries %+v %v", entries, err)
	}
}
