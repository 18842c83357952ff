package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"mercato/platform/identity"
	mmail "mercato/platform/mail"
)

func TestIdentityMailerSendsBrandedMailOverSMTP(t *testing.T) {
	c := capture(t, nil)
	tenant := uuid.Must(uuid.NewV7())
	var asked []uuid.UUID
	im := mmail.IdentityMailer{
		Sender:   sender(t, c.URL(), mmail.SenderOptions{From: "Mercato <noreply@mercato.test>"}),
		Renderer: newRenderer(t),
		Branding: func(_ context.Context, id uuid.UUID) (mmail.Branding, error) {
			asked = append(asked, id)
			return lumen, nil
		},
	}
	var _ identity.Mailer = im

	link := "https://lumen.test/reset?token=a&b=c"
	err := im.Send(context.Background(), identity.Message{TenantID: tenant, To: "ada@example.test",
		Subject: "重置您的密码", Text: "请在一小时内打开以下链接设置新密码：\n\n" + link + "\n\n如果您没有申请重置密码，请忽略此邮件。<b>\n"})
	if err != nil {
		t.Fatal(err)
	}
	m := only(t, c)
	if len(asked) != 1 || asked[0] != tenant {
		t.Errorf("branding asked for %v", asked)
	}
	if from := m.Header.Get("From"); !strings.Contains(from, "noreply@mercato.test") {
		t.Errorf("From %q", from)
	}
	if list, err := m.Header.AddressList("From"); err != nil || list[0].Name != "Lumen Market" {
		t.Errorf("From display name: %v %v", list, err)
	}
	if m.Subject != "重置您的密码" || !strings.Contains(m.Text, link) {
		t.Errorf("subject %q text %q", m.Subject, m.Text)
	}
	for _, want := range []string{`lang="zh-CN"`, "background:#e4572e", `<a href="https://lumen.test/reset?token=a&amp;b=c"`, "请忽略此邮件。&lt;b&gt;", "如有疑问"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("html lacks %q:\n%s", want, m.HTML)
		}
	}
	if strings.Contains(m.HTML, "<b>") {
		t.Error("text reached the HTML unescaped")
	}

	// Platform mail (no tenant) needs no lookup and keeps the default sender.
	c.Clear()
	if err := im.Send(context.Background(), identity.Message{To: "op@example.test", Subject: "Reset your password", Text: "Open https://admin.test/r."}); err != nil {
		t.Fatal(err)
	}
	m = only(t, c)
	if len(asked) != 1 || !strings.Contains(m.HTML, `lang="en"`) || !strings.Contains(m.HTML, `<a href="https://admin.test/r"`) {
		t.Errorf("platform mail: asked %v\n%s", asked, m.HTML)
	}
	if list, _ := m.Header.AddressList("From"); len(list) != 1 || list[0].Name != "Mercato" {
		t.Errorf("platform From: %v", list)
	}

	// A failed lookup sends nothing.
	c.Clear()
	im.Branding = func(context.Context, uuid.UUID) (mmail.Branding, error) {
		return mmail.Branding{}, errors.New("db down")
	}
	if err := im.Send(context.Background(), identity.Message{TenantID: tenant, To: "ada@example.test", Subject: "s", Text: "t"}); err == nil || len(c.Messages()) != 0 {
		t.Errorf("lookup failure: %v, %d sent", err, len(c.Messages()))
	}
}
