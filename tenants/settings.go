package tenants

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/fault"
	"mercato/platform/web"
)

// Settings are what a tenant owner may change about the marketplace from the console: whether
// merchant applications are approved without waiting (when the plan has room), the storefront's
// two theme colours and its default language.
type Settings struct {
	AutoApproveMerchants bool   `json:"auto_approve_merchants"`
	RequireListingReview bool   `json:"require_listing_review" doc:"products wait for a moderator before they go live"`
	DefaultLocale        string `json:"default_locale" enum:"en,zh-CN"`
	Primary              string `json:"primary,omitempty" doc:"#rrggbb; empty for the platform's default"`
	Accent               string `json:"accent,omitempty" doc:"#rrggbb; empty for the platform's default"`
}

type settingsRow struct {
	Settings      map[string]any    `bun:"settings,type:jsonb"`
	Theme         map[string]string `bun:"theme,type:jsonb"`
	DefaultLocale string            `bun:"default_locale"`
}

func (r settingsRow) settings() Settings {
	auto, _ := r.Settings["auto_approve_merchants"].(bool)
	review, _ := r.Settings["require_listing_review"].(bool)
	return Settings{AutoApproveMerchants: auto, RequireListingReview: review, DefaultLocale: r.DefaultLocale,
		Primary: r.Theme["primary"], Accent: r.Theme["accent"]}
}

// Settings returns the tenant's settings. Errors: ErrNotFound.
func (s *Service) Settings(ctx context.Context, tenantID uuid.UUID) (Settings, error) {
	var row settingsRow
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		return readSettings(ctx, tx, tenantID, &row, false)
	})
	if err != nil {
		return Settings{}, fmt.Errorf("tenant settings: %w", err)
	}
	return row.settings(), nil
}

func readSettings(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, row *settingsRow, forUpdate bool) error {
	q := tx.NewSelect().Table("tenants").Column("settings", "theme", "default_locale").Where("id = ?", tenantID)
	if forUpdate {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx, row); err != nil {
		return ErrNotFound
	}
	return nil
}

func (in *Settings) validate() error {
	in.Primary = strings.ToLower(strings.TrimSpace(in.Primary))
	in.Accent = strings.ToLower(strings.TrimSpace(in.Accent))
	// The storefront renders the theme through web.Theme, so the same rules decide here.
	err := web.Theme{Primary: in.Primary, Accent: in.Accent}.Validate()
	bad := map[string]string{}
	if fe := fault.As(err); fe != nil {
		for _, f := range fe.Fields {
			bad[f.Location] = f.Message
		}
	} else if err != nil {
		return err
	}
	if in.DefaultLocale != web.LocaleEN && in.DefaultLocale != web.LocaleZH {
		bad["body.default_locale"] = "must be en or zh-CN"
	}
	if len(bad) > 0 {
		return fault.Fields(bad)
	}
	return nil
}

// UpdateSettings replaces the tenant's settings and writes the change to its audit log. Keys
// of the settings and theme documents that these fields do not cover (a logo, say) are kept.
// Errors: ErrNotFound, invalid fields (body.primary, body.accent, body.default_locale).
func (s *Service) UpdateSettings(ctx context.Context, tenantID uuid.UUID, in Settings) (Settings, error) {
	if err := in.validate(); err != nil {
		return Settings{}, err
	}
	var after Settings
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var row settingsRow
		if err := readSettings(ctx, tx, tenantID, &row, true); err != nil {
			return err
		}
		before := row.settings()
		if row.Settings == nil {
			row.Settings = map[string]any{}
		}
		if row.Theme == nil {
			row.Theme = map[string]string{}
		}
		row.Settings["auto_approve_merchants"] = in.AutoApproveMerchants
		row.Settings["require_listing_review"] = in.RequireListingReview
		for k, v := range map[string]string{"primary": in.Primary, "accent": in.Accent} {
			if v == "" {
				delete(row.Theme, k)
			} else {
				row.Theme[k] = v
			}
		}
		settings, err := json.Marshal(row.Settings)
		if err != nil {
			return err
		}
		theme, err := json.Marshal(row.Theme)
		if err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Table("tenants").
			Set("settings = ?::jsonb, theme = ?::jsonb, default_locale = ?, updated_at = now()", string(settings), string(theme), in.DefaultLocale).
			Where("id = ?", tenantID).Exec(ctx); err != nil {
			return err
		}
		after = in
		return audit.Record(ctx, tx, audit.Entry{Action: "tenant.update_settings", ResourceType: "tenant",
			ResourceID: tenantID.String(), Before: before, After: after})
	})
	if err != nil {
		return Settings{}, fmt.Errorf("update tenant settings: %w", err)
	}
	return after, nil
}
