// Package demo loads the demo marketplace that `mercato seed` and `mercato dev` show a
// newcomer: plans, several tenants in two locales and currencies, merchants in every status,
// shoppers and staff. Loading it twice changes nothing.
package demo

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/identity"
)

// Tenant is one demo marketplace.
type Tenant struct {
	Slug, Name, Locale, Currency, Domain string
	Theme                                map[string]string
	Settings                             map[string]any // tenant settings, e.g. require_listing_review
	Merchants                            []Merchant
	Shoppers                             []string
}

// Merchant is one demo seller.
type Merchant struct{ Handle, Name, Status string }

// Plans is the demo price list, in minor units.
var Plans = []struct {
	Code, Name string
	PriceMinor int64
	Limits     string
}{
	{"starter", "Starter", 2900, `{"merchants": 5, "products": 500, "staff": 3, "features": ["storefront"]}`},
	{"growth", "Growth", 9900, `{"merchants": 50, "products": 10000, "staff": 15, "features": ["storefront", "custom_domain", "api", "webhooks"]}`},
	{"scale", "Scale", 29900, `{"merchants": 1000, "products": 250000, "staff": 100, "features": ["storefront", "custom_domain", "api", "webhooks", "flash_sales", "analytics"]}`},
}

// Tenants are the demo marketplaces.
var Tenants = []Tenant{
	{
		Slug: "lumen", Name: "Lumen Goods", Locale: "en", Currency: "USD", Domain: "lumen-goods.test",
		Theme: map[string]string{"primary": "#1f6feb", "accent": "#f59e0b"},
		// Lumen moderates new listings, so its console has a moderation queue to show.
		Settings: map[string]any{"require_listing_review": true},
		Merchants: []Merchant{
			{"northwind-lighting", "Northwind Lighting", "active"},
			{"oak-and-ash", "Oak & Ash Furniture", "active"},
			{"paper-lantern", "Paper Lantern Co.", "pending"},
			{"glowworks", "Glowworks", "suspended"},
		},
		Shoppers: []string{"ava@example.com", "liam@example.com", "mia@example.com"},
	},
	{
		Slug: "panda", Name: "熊猫市集 Panda Market", Locale: "zh-CN", Currency: "CNY", Domain: "panda-market.test",
		Theme: map[string]string{"primary": "#c8102e", "accent": "#111827"},
		Merchants: []Merchant{
			{"xiangyun-tea", "祥云茶庄 Xiangyun Tea", "active"},
			{"jade-studio", "玉坊 Jade Studio", "active"},
			{"silk-road", "丝路 Silk Road", "pending"},
		},
		Shoppers: []string{"wang.fang@example.com", "li.na@example.com", "ava@example.com"},
	},
	{
		Slug: "nordic", Name: "Nordic Knits", Locale: "en", Currency: "EUR",
		Theme: map[string]string{"primary": "#0f766e", "accent": "#e11d48"},
		Merchants: []Merchant{
			{"nordic-knits", "Nordic Knits", "active"},
		},
		Shoppers: []string{"emil@example.com"},
	},
}

// Password is every demo account's password; dev prints it next to the logins.
const Password = "mercato-demo-2026"

// Staff are the demo staff users: e-mail, name, platform role ("" for tenant staff), and the
// tenant slug, merchant handle ("" for tenant-wide) and role they hold there.
var Staff = []struct{ Email, Name, PlatformRole, Tenant, Merchant, Role string }{
	{"operator@mercato.test", "Olivia Operator", "platform_admin", "", "", ""},
	{"support@mercato.test", "Sam Support", "platform_support", "", "", ""},
	{"owner@lumen-goods.test", "Lars Lumen", "", "lumen", "", "tenant_owner"},
	{"moderator@lumen-goods.test", "Maya Moderator", "", "lumen", "", "tenant_staff"},
	{"owner@northwind.test", "Nils Northwind", "", "lumen", "northwind-lighting", "merchant_owner"},
	{"packer@northwind.test", "Pia Packer", "", "lumen", "northwind-lighting", "merchant_staff"},
	{"owner@panda-market.test", "Pan Dawei", "", "panda", "", "tenant_owner"},
	{"owner@xiangyun.test", "Xiang Yun", "", "panda", "xiangyun-tea", "merchant_owner"},
	{"owner@nordic-knits.test", "Nora Nordic", "", "nordic", "", "tenant_owner"},
}

// Load writes the demo through the audited platform entry point.
func Load(ctx context.Context, p *db.Platform) error {
	hash, err := identity.HashPassword(Password) // one hash for every account: argon2id is slow on purpose
	if err != nil {
		return err
	}
	return p.Do(ctx, "demo.load", func(tx bun.IDB) error {
		for _, pl := range Plans {
			if _, err := tx.ExecContext(ctx, `INSERT INTO plans (code, name, price_minor, currency, limits)
				VALUES (?, ?, ?, 'USD', ?::jsonb) ON CONFLICT (code) DO NOTHING`, pl.Code, pl.Name, pl.PriceMinor, pl.Limits); err != nil {
				return fmt.Errorf("plan %s: %w", pl.Code, err)
			}
		}
		for i, t := range Tenants {
			plan := Plans[i%len(Plans)].Code
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (slug, name, plan_id, default_locale, default_currency, theme, settings)
				SELECT ?, ?, id, ?, ?, ?::jsonb, ?::jsonb FROM plans WHERE code = ? ON CONFLICT (slug) DO NOTHING`,
				t.Slug, t.Name, t.Locale, t.Currency, themeJSON(t.Theme), settingsJSON(t.Settings), plan); err != nil {
				return fmt.Errorf("tenant %s: %w", t.Slug, err)
			}
			if t.Domain != "" {
				if _, err := tx.ExecContext(ctx, `INSERT INTO tenant_domains (host, tenant_id, is_primary)
					SELECT ?, id, true FROM tenants WHERE slug = ? ON CONFLICT (host) DO NOTHING`, t.Domain, t.Slug); err != nil {
					return fmt.Errorf("domain %s: %w", t.Domain, err)
				}
			}
			for _, m := range t.Merchants {
				if _, err := tx.ExecContext(ctx, `INSERT INTO merchants (tenant_id, handle, name, status)
					SELECT id, ?, ?, ? FROM tenants WHERE slug = ? ON CONFLICT (tenant_id, handle) DO NOTHING`,
					m.Handle, m.Name, m.Status, t.Slug); err != nil {
					return fmt.Errorf("merchant %s: %w", m.Handle, err)
				}
			}
			for _, email := range t.Shoppers {
				if _, err := tx.ExecContext(ctx, `INSERT INTO shoppers (tenant_id, email, locale, password_hash)
					SELECT id, ?, default_locale, ? FROM tenants WHERE slug = ?
					ON CONFLICT (tenant_id, email) DO UPDATE SET password_hash = coalesce(shoppers.password_hash, EXCLUDED.password_hash)`,
					email, hash, t.Slug); err != nil {
					return fmt.Errorf("shopper %s: %w", email, err)
				}
			}
		}
		for _, s := range Staff {
			if _, err := tx.ExecContext(ctx, `INSERT INTO staff_users (email, name, platform_role, password_hash)
				VALUES (?, ?, NULLIF(?, ''), ?)
				ON CONFLICT (email) DO UPDATE SET password_hash = coalesce(staff_users.password_hash, EXCLUDED.password_hash)`, s.Email, s.Name, s.PlatformRole, hash); err != nil {
				return fmt.Errorf("staff %s: %w", s.Email, err)
			}
			if s.Tenant == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO memberships (tenant_id, user_id, merchant_id, role)
				SELECT t.id, u.id, (SELECT m.id FROM merchants m WHERE m.tenant_id = t.id AND m.handle = NULLIF(?, '')), ?
				FROM tenants t, staff_users u WHERE t.slug = ? AND u.email = ?
				ON CONFLICT DO NOTHING`, s.Merchant, s.Role, s.Tenant, s.Email); err != nil {
				return fmt.Errorf("membership %s: %w", s.Email, err)
			}
		}
		return nil
	})
}

func settingsJSON(m map[string]any) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m) // booleans and strings always marshal
	return string(b)
}

func themeJSON(m map[string]string) string {
	b, _ := json.Marshal(m) // a map of strings always marshals
	return string(b)
}
