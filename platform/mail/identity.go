package mail

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"mercato/platform/identity"
)

// IdentityMailer sends platform/identity's mail (password resets and the like) over SMTP:
// identity writes the subject and text, this frames them in the tenant's branding as an HTML
// alternative and sends both parts.
type IdentityMailer struct {
	Sender   *Sender
	Renderer *Renderer
	// Branding looks up a tenant's name, colour and logo. Nil, or platform mail (uuid.Nil),
	// uses Mercato's.
	Branding func(ctx context.Context, tenantID uuid.UUID) (Branding, error)
}

var _ identity.Mailer = IdentityMailer{}

// notice is the data of identity's mail: text someone else wrote, shown in the layout.
type notice struct {
	Subject    string
	Text       string
	Paragraphs [][]segment
}

// segment is a run of a paragraph: plain text, or a link whose text is its URL.
type segment struct{ Text, URL string }

const eventNotice = "notice"

// Send renders m in the tenant's branding and sends it to m.To. identity.Message carries no
// locale, so the script of the text chooses the language of the frame around it.
// Errors: the branding lookup's, and Sender.Send's.
func (im IdentityMailer) Send(ctx context.Context, m identity.Message) error {
	var b Branding
	if im.Branding != nil && m.TenantID != uuid.Nil {
		var err error
		if b, err = im.Branding(ctx, m.TenantID); err != nil {
			return fmt.Errorf("identity mail: branding: %w", err)
		}
	}
	locale := LocaleEN
	if strings.IndexFunc(m.Subject+m.Text, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0 {
		locale = LocaleZH
	}
	_, _, html, err := im.Renderer.render(eventNotice, locale, b, notice{Subject: m.Subject, Text: m.Text, Paragraphs: paragraphs(m.Text)})
	if err != nil {
		return fmt.Errorf("identity mail: %w", err)
	}
	msg := Message{To: []string{m.To}, Subject: m.Subject, Text: m.Text, HTML: html}
	// The tenant's name as the display name makes the mail recognisable in an inbox; the
	// address stays the platform's, which is what SPF and DKIM vouch for.
	if s := im.Sender.from; s != nil && b.Name != "" {
		msg.From = (&mail.Address{Name: b.Name, Address: s.Address}).String()
	}
	return im.Sender.Send(ctx, msg)
}

var urlRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// paragraphs splits text at blank lines and finds the links in each paragraph, so the HTML
// part has clickable links without trusting any markup in the text.
func paragraphs(text string) [][]segment {
	var out [][]segment
	for _, p := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		p = strings.Join(strings.Fields(p), " ")
		if p == "" {
			continue
		}
		var segs []segment
		last := 0
		for _, loc := range urlRE.FindAllStringIndex(p, -1) {
			// Sentence punctuation right after a URL belongs to the sentence.
			u := strings.TrimRight(p[loc[0]:loc[1]], ".,;:!?)）。，")
			if loc[0] > last {
				segs = append(segs, segment{Text: p[last:loc[0]]})
			}
			segs = append(segs, segment{Text: u, URL: u})
			last = loc[0] + len(u)
		}
		if last < len(p) {
			segs = append(segs, segment{Text: p[last:]})
		}
		out = append(out, segs)
	}
	return out
}
