package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/fault"
)

// Theme is a tenant's look: two colours and a logo. It is stored as the tenant's theme JSON.
//
// The theme reaches the browser as a tiny stylesheet, /theme.css?v=<version>, rather than
// an inline <style>: the URL changes whenever the theme does, so it is cached for a year,
// pages stay free of inline CSS (the CSP could drop 'unsafe-inline' for styles), and the
// HTML of every page is a few hundred bytes smaller.
type Theme struct {
	Primary string `json:"primary,omitempty"`  // #rrggbb: buttons, links, the active nav item
	Accent  string `json:"accent,omitempty"`   // #rrggbb: highlights, the second chart series
	LogoURL string `json:"logo_url,omitempty"` // a path on this site, or empty for the name
}

// Validate checks colours and the logo; the error lists each bad field (body.primary, ...)
// so a settings form shows each problem beside its field.
func (t Theme) Validate() error {
	bad := map[string]string{}
	if t.Primary != "" && !isHexColour(t.Primary) {
		bad["body.primary"] = "theme.colour_invalid"
	}
	if t.Accent != "" && !isHexColour(t.Accent) {
		bad["body.accent"] = "theme.colour_invalid"
	}
	if t.LogoURL != "" && SafePath(t.LogoURL, "") == "" {
		bad["body.logo_url"] = "theme.logo_invalid"
	}
	if len(bad) > 0 {
		return fmt.Errorf("validate theme: %w", fault.Fields(bad))
	}
	return nil
}

// IsZero reports whether the theme changes nothing from the stylesheet's defaults.
func (t Theme) IsZero() bool { return t == Theme{} }

func isHexColour(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	_, err := strconv.ParseUint(s[1:], 16, 32)
	return err == nil && !strings.ContainsAny(s[1:], "+-")
}

// CSS is the theme as custom properties that app.css reads. Besides the two colours it
// derives what keeps pages readable whatever a tenant picks: the text colour on top of each
// (white or ink, whichever contrasts more), a darker shade for hover, a pale tint for
// backgrounds, and a link colour darkened until it reaches 4.5:1 on white (WCAG AA).
// Invalid fields are left out, so a bad stored theme cannot break the stylesheet.
func (t Theme) CSS() string {
	var b strings.Builder
	b.WriteString(":root{")
	if c, ok := parseColour(t.Primary); ok {
		fmt.Fprintf(&b, "--primary:%s;--on-primary:%s;--primary-strong:%s;--primary-soft:%s;--link:%s;",
			c, c.onColour(), c.mix(rgb{0, 0, 0}, 20), c.mix(rgb{255, 255, 255}, 90), c.readableOnWhite())
	}
	if c, ok := parseColour(t.Accent); ok {
		fmt.Fprintf(&b, "--accent:%s;--on-accent:%s;--accent-soft:%s;", c, c.onColour(), c.mix(rgb{255, 255, 255}, 88))
	}
	b.WriteString("}\n")
	return b.String()
}

// Version identifies the theme's CSS; it is the cache-busting part of the theme URL and
// the ETag of the theme response.
func (t Theme) Version() string {
	sum := sha256.Sum256([]byte(t.CSS()))
	return hex.EncodeToString(sum[:8])
}

// ThemeCSS serves the theme of the request's tenant, found by resolve (for the storefront,
// by Host). A request whose ?v= matches the current version may be cached for a year;
// any other gets the current CSS with an ETag and must revalidate.
func ThemeCSS(resolve func(c *fiber.Ctx) (Theme, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t, err := resolve(c)
		if err != nil {
			return fmt.Errorf("theme css: %w", err)
		}
		v := t.Version()
		etag := `"` + v + `"`
		c.Set(fiber.HeaderETag, etag)
		if c.Query("v") == v {
			c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
		} else {
			c.Set(fiber.HeaderCacheControl, "no-cache")
		}
		if c.Get(fiber.HeaderIfNoneMatch) == etag {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
		return c.SendString(t.CSS())
	}
}

// rgb is a colour; the arithmetic below is about pixels, not money.
type rgb struct{ r, g, b int }

func parseColour(s string) (rgb, bool) {
	if !isHexColour(s) {
		return rgb{}, false
	}
	n, _ := strconv.ParseUint(s[1:], 16, 32)
	return rgb{int(n >> 16 & 0xff), int(n >> 8 & 0xff), int(n & 0xff)}, true
}

func (c rgb) String() string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

// mix moves c toward o by pct percent.
func (c rgb) mix(o rgb, pct int) rgb {
	f := func(a, b int) int { return a + (b-a)*pct/100 }
	return rgb{f(c.r, o.r), f(c.g, o.g), f(c.b, o.b)}
}

// luminance is the WCAG relative luminance in [0, 1].
func (c rgb) luminance() float64 {
	ch := func(v int) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c.r) + 0.7152*ch(c.g) + 0.0722*ch(c.b)
}

func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// ink is the text colour of the stylesheet.
func ink() rgb { return rgb{0x11, 0x18, 0x27} }

// onColour is white or ink, whichever is more legible on c.
func (c rgb) onColour() rgb {
	white := rgb{255, 255, 255}
	if contrast(c, white) >= contrast(c, ink()) {
		return white
	}
	return ink()
}

// readableOnWhite darkens c until text in it reaches 4.5:1 on white.
func (c rgb) readableOnWhite() rgb {
	white := rgb{255, 255, 255}
	for i := 0; i < 20 && contrast(c, white) < 4.5; i++ {
		c = c.mix(rgb{0, 0, 0}, 10)
	}
	return c
}
