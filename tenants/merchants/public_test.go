package merchants_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants/merchants"
)

// TestListActive: the storefront's list holds a tenant's active merchants only, by handle,
// paged without repeats or gaps, and never another tenant's.
func TestListActive(t *testing.T) {
	fx := setup(t)
	ctx := context.Background()
	lumen := fx.tenants["lumen"]
	// Twelve more active merchants, so the list spans pages.
	for i := range 12 {
		fx.exec(t, `INSERT INTO merchants (tenant_id, handle, name, status, contact_email, description)
			VALUES (?, ?, ?, 'active', 'secret@example.com', 'Hand made.')`, lumen, "shop-"+string(rune('a'+i))+"x", "Shop")
	}
	want := []string{"northwind-lighting", "oak-and-ash"}
	for i := range 12 {
		want = append(want, "shop-"+string(rune('a'+i))+"x")
	}
	slices.Sort(want)

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := fx.s.ListActive(ctx, lumen, httpx.PageParams{Limit: 5, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 5 {
			t.Fatalf("page of %d, want at most 5", len(page.Items))
		}
		for _, m := range page.Items {
			got = append(got, m.Handle)
			if m.Handle != "northwind-lighting" && m.Handle != "oak-and-ash" && m.Description != "Hand made." {
				t.Errorf("%s: description %q", m.Handle, m.Description)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Errorf("active merchants by handle:\n got  %v\n want %v", got, want)
	}

	panda, err := fx.s.ListActive(ctx, fx.tenants["panda"], httpx.PageParams{})
	if err != nil {
		t.Fatal(err)
	}
	var handles []string
	for _, m := range panda.Items {
		handles = append(handles, m.Handle)
	}
	if !slices.Equal(handles, []string{"jade-studio", "xiangyun-tea"}) {
		t.Errorf("panda's active merchants %v", handles)
	}
	if _, err := fx.s.ListActive(ctx, lumen, httpx.PageParams{Cursor: "not a cursor!"}); !errors.Is(err, httpx.ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

// TestOpenInvitation: an invitation can be read by its token while it can be accepted: not
// once used, not after it expires, not from another tenant.
func TestOpenInvitation(t *testing.T) {
	fx := setup(t)
	ctx := scope.WithActor(context.Background(), "user:test")
	lumen, panda := fx.tenants["lumen"], fx.tenants["panda"]
	token, inv, err := fx.s.Invite(ctx, lumen, "New.Owner@Example.com", "Lantern Works")
	if err != nil {
		t.Fatal(err)
	}
	got, err := fx.s.OpenInvitation(ctx, lumen, token)
	if err != nil || got.ID != inv.ID || got.Email != "new.owner@example.com" || got.MerchantName != "Lantern Works" ||
		got.ExpiresAt.Sub(inv.ExpiresAt).Abs() > time.Millisecond {
		t.Fatalf("open: %+v %v, want %+v", got, err, inv)
	}
	for name, check := range map[string]func() error{
		"unknown token": func() error { _, err := fx.s.OpenInvitation(ctx, lumen, "nope"); return err },
		"other tenant":  func() error { _, err := fx.s.OpenInvitation(ctx, panda, token); return err },
	} {
		if err := check(); !errors.Is(err, merchants.ErrInvitationInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := fx.s.AcceptInvitation(ctx, lumen, token, "lantern-works", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.OpenInvitation(ctx, lumen, token); !errors.Is(err, merchants.ErrInvitationInvalid) {
		t.Errorf("used invitation: %v", err)
	}
	token, _, err = fx.s.Invite(ctx, lumen, "late@example.com", "Late Shop")
	if err != nil {
		t.Fatal(err)
	}
	fx.exec(t, "UPDATE merchant_invitations SET expires_at = now() - interval '1 second' WHERE email = 'late@example.com'")
	if _, err := fx.s.OpenInvitation(ctx, lumen, token); !errors.Is(err, merchants.ErrInvitationInvalid) {
		t.Errorf("expired invitation: %v", err)
	}
}
