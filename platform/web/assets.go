package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// asset is one embedded file, ready to serve: plain and gzipped bodies and a content hash.
type asset struct {
	body, gz    []byte
	contentType string
	version     string // first 16 hex digits of the SHA-256 of body
}

type assetTable map[string]asset

// loadAssets reads assets/ from the embedded files once; Renderer and Assets each call it,
// and both get the same versions because the files are the same bytes.
func loadAssets() (assetTable, error) {
	t := assetTable{}
	entries, err := fs.ReadDir(kitFS, "assets")
	if err != nil {
		return nil, fmt.Errorf("read assets: %w", err)
	}
	for _, e := range entries {
		body, err := fs.ReadFile(kitFS, "assets/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read asset %s: %w", e.Name(), err)
		}
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(body) // writes to a bytes.Buffer do not fail
		_ = w.Close()
		sum := sha256.Sum256(body)
		ct := "application/octet-stream"
		switch path.Ext(e.Name()) {
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		t[e.Name()] = asset{body: body, gz: gz.Bytes(), contentType: ct, version: hex.EncodeToString(sum[:8])}
	}
	return t, nil
}

// Assets serves the shared stylesheet and script under /assets of router (mount it where
// Options.AssetsPath says). Pages link them with ?v=<content hash>, so a matching request is
// cached for a year and a new build is fetched at once; anything else revalidates by ETag.
// Bodies are gzipped once, at start.
func Assets(router fiber.Router) error {
	table, err := loadAssets()
	if err != nil {
		return fmt.Errorf("assets: %w", err)
	}
	router.Get("/assets/:name", func(c *fiber.Ctx) error {
		a, ok := table[c.Params("name")]
		if !ok {
			return fiber.ErrNotFound
		}
		etag := `"` + a.version + `"`
		c.Set(fiber.HeaderETag, etag)
		c.Vary(fiber.HeaderAcceptEncoding)
		if c.Query("v") == a.version {
			c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
		} else {
			c.Set(fiber.HeaderCacheControl, "no-cache")
		}
		if c.Get(fiber.HeaderIfNoneMatch) == etag {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, a.contentType)
		if strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
			c.Set(fiber.HeaderContentEncoding, "gzip")
			return c.Send(a.gz)
		}
		return c.Send(a.body)
	})
	return nil
}
