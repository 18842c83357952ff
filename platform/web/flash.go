package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// The kinds of flash message.
const (
	FlashSuccess = "success"
	FlashError   = "error"
)

// FlashCookie carries the message from a POST to the page its redirect lands on.
const FlashCookie = "flash"

// flashTTL bounds how long a flash waits for its page: the redirect follows at once, so a
// flash older than this is stale (a tab restored hours later must not show "Saved").
const flashTTL = 2 * time.Minute

// Flash is one message shown once, on the next page, after an action (Post/Redirect/Get).
type Flash struct {
	Kind    string   `json:"k"`           // FlashSuccess or FlashError
	Message string   `json:"m"`           // a catalogue key, or text shown as it is
	Args    []string `json:"a,omitempty"` // fill {0}, {1}, ... of the message
	Expires int64    `json:"e"`           // unix seconds
	Text    string   `json:"-"`           // the message in the page's locale, set by Render
}

// Flash stores a message for the next page the person sees. Call it before redirecting:
//
//	r.Flash(c, web.FlashSuccess, "products.saved", name)
//	return c.Redirect("/console/products", fiber.StatusSeeOther)
//
// The cookie is signed, so nobody can make a page show a message of their choosing.
func (r *Renderer) Flash(c *fiber.Ctx, kind, message string, args ...string) {
	if kind != FlashError {
		kind = FlashSuccess
	}
	f := Flash{Kind: kind, Message: truncate(message, 300), Expires: r.now().Add(flashTTL).Unix()}
	for i, a := range args {
		if i == 4 {
			break
		}
		f.Args = append(f.Args, truncate(a, 200))
	}
	c.Cookie(&fiber.Cookie{
		Name:     FlashCookie,
		Value:    r.signFlash(f),
		Path:     "/",
		MaxAge:   int(flashTTL / time.Second),
		Secure:   r.opts.SecureCookies,
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// takeFlash reads and clears the flash cookie; a forged, tampered or stale one is dropped.
func (r *Renderer) takeFlash(c *fiber.Ctx) *Flash {
	raw := c.Cookies(FlashCookie)
	if raw == "" {
		return nil
	}
	c.Cookie(&fiber.Cookie{
		Name: FlashCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
		Secure: r.opts.SecureCookies, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
	f, ok := r.verifyFlash(raw)
	if !ok {
		return nil
	}
	return &f
}

func (r *Renderer) flashMAC(payload string) []byte {
	m := hmac.New(sha256.New, r.opts.FlashKey)
	m.Write([]byte("mercato-flash\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (r *Renderer) signFlash(f Flash) string {
	b, _ := json.Marshal(f) // a struct of strings and an int always marshals
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(r.flashMAC(payload))
}

func (r *Renderer) verifyFlash(raw string) (Flash, bool) {
	payload, sig, ok := strings.Cut(raw, ".")
	if !ok {
		return Flash{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, r.flashMAC(payload)) {
		return Flash{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Flash{}, false
	}
	var f Flash
	if json.Unmarshal(b, &f) != nil || r.now().Unix() > f.Expires {
		return Flash{}, false
	}
	if f.Kind != FlashError {
		f.Kind = FlashSuccess
	}
	return f, true
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
