package storefront

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/blob"
)

// mediaMaxAge is how long browsers and proxies may keep an image without asking again. Keys
// name one upload each (t/{tenant}/m/{merchant}/{kind}/{uuid}), so an image under a key does
// not change; a day keeps a replaced object from lingering for long all the same.
const mediaMaxAge = "public, max-age=86400"

// inlineTypes are the image types a store's pages show. Anything else is sent as a download:
// an object uploaded as HTML or SVG must never run as a page of the store's origin.
var inlineTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true, "image/gif": true, "image/avif": true}

// media streams an object of this store from the bucket: only keys under t/{tenant id}/, so one
// store's host never serves another's files (their keys answer 404, as missing ones do).
// A matching If-None-Match is answered 304 without a body.
func (s *storefront) media(c *fiber.Ctx, v *visit) error {
	key := strings.Clone(c.Params("*"))
	prefix := "t/" + v.tenant.ID.String() + "/"
	if s.d.Blob == nil || !strings.HasPrefix(key, prefix) || len(key) == len(prefix) || len(key) > 1024 ||
		strings.Contains(key, "..") || strings.Contains(key, "//") {
		return fiber.ErrNotFound
	}
	body, obj, err := s.d.Blob.Get(c.UserContext(), key)
	if errors.Is(err, blob.ErrNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	etag := `"` + strings.Trim(obj.ETag, `"`) + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, mediaMaxAge)
	if !obj.ModTime.IsZero() {
		c.Set(fiber.HeaderLastModified, obj.ModTime.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	}
	if notModified(c.Get(fiber.HeaderIfNoneMatch), etag) {
		body.Close()
		return c.SendStatus(fiber.StatusNotModified)
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(obj.ContentType, ";")[0]))
	if inlineTypes[ct] {
		c.Set(fiber.HeaderContentType, ct)
	} else {
		c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
		c.Set(fiber.HeaderContentDisposition, "attachment")
	}
	// SendStream closes body once the response is written.
	return c.SendStream(body, int(obj.Size))
}

// notModified reports whether an If-None-Match header (a list of tags, weak or strong, or *)
// names etag; the comparison is weak, as RFC 9110 asks for If-None-Match.
func notModified(header, etag string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}
