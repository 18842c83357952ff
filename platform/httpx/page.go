package httpx

import (
	"encoding/base64"
	"encoding/json"

	"mercato/platform/fault"
)

// Page limits: a client may ask for fewer, never for more; limit=100000 gets MaxPageSize.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// ErrBadCursor is answered for a cursor the server did not issue.
var ErrBadCursor = fault.New(fault.Invalid, "bad_cursor", "the cursor is not valid; start again without it")

// PageParams is embedded in the input of every list operation.
type PageParams struct {
	Limit  int    `query:"limit" minimum:"0" doc:"items per page; at most 100"`
	Cursor string `query:"cursor" maxLength:"512" doc:"next_cursor from the previous page"`
}

// Size is the page size to fetch: the client's limit capped to MaxPageSize.
func (p PageParams) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageSize
	case p.Limit > MaxPageSize:
		return MaxPageSize
	}
	return p.Limit
}

// Page is the body of every list response.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty" doc:"pass as cursor to get the next page; absent on the last page"`
}

// EncodeCursor makes an opaque cursor from the sort key of the last item on a page.
func EncodeCursor(key any) string {
	b, _ := json.Marshal(key)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor made by EncodeCursor into key; empty means the first page.
func DecodeCursor(cursor string, key any) (first bool, err error) {
	if cursor == "" {
		return true, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || json.Unmarshal(b, key) != nil {
		return false, ErrBadCursor
	}
	return false, nil
}

// PageOf trims a slice fetched with Size()+1 rows to Size() and sets the next cursor from the
// last item kept, using keyOf to read its sort key.
func PageOf[T any](rows []T, p PageParams, keyOf func(T) any) Page[T] {
	n := p.Size()
	if rows == nil {
		rows = []T{}
	}
	if len(rows) <= n {
		return Page[T]{Items: rows}
	}
	rows = rows[:n]
	return Page[T]{Items: rows, NextCursor: EncodeCursor(keyOf(rows[n-1]))}
}
