package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// timeLayout is how an entry's time enters its hash: UTC, microseconds (PostgreSQL's
// precision), so the value read back from timestamptz hashes the same.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// hashVersion names the encoding below; a new encoding would get a new number.
const hashVersion = 1

// Hash is the SHA-256 of an entry: the digest of this canonical JSON object (keys sorted),
//
//	{"action":…, "actor":…, "after":…, "at":"2006-01-02T15:04:05.000000Z", "before":…,
//	 "diff":…, "id":"<uuid>", "ip":…, "prev_hash":"<64 hex digits>", "request_id":…,
//	 "resource_id":…, "resource_type":…, "seq":<n>, "tenant_id":"<uuid>", "v":1}
//
// where before, after and diff are the JSON values themselves (null for SQL NULL). Every
// column but hash is covered, so no stored field can change unnoticed. Canonical JSON:
// UTF-8, no whitespace, object keys sorted bytewise, strings escaped only where JSON must
// (", \ and control characters; NUL becomes U+FFFD, which jsonb cannot store), numbers as
// exact decimals without exponent, leading or trailing zeros ("1.50", "15e-1" → "1.5";
// "-0" → "0"). jsonb keeps numbers exact but reorders keys and respaces, so a value read
// back from the database encodes to the same bytes it was hashed as.
func Hash(l Logged) ([]byte, error) {
	env := map[string]any{
		"v":             json.Number(strconv.Itoa(hashVersion)),
		"tenant_id":     l.TenantID.String(),
		"seq":           json.Number(strconv.FormatInt(l.Seq, 10)),
		"id":            l.ID.String(),
		"at":            l.At.UTC().Format(timeLayout),
		"actor":         l.Actor,
		"action":        l.Action,
		"resource_type": l.ResourceType,
		"resource_id":   l.ResourceID,
		"ip":            l.IP,
		"request_id":    l.RequestID,
		"prev_hash":     hex.EncodeToString(l.PrevHash),
	}
	for k, raw := range map[string]json.RawMessage{"before": l.Before, "after": l.After, "diff": l.Diff} {
		v, err := decode(raw)
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", k, err)
		}
		env[k] = v
	}
	b, err := appendCanonical(nil, env)
	if err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// decode reads one JSON value, keeping numbers as their text; empty input is null.
func decode(raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// encodeValue turns a Go value into its decoded JSON form (maps, slices, json.Number, ...).
func encodeValue(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decode(raw)
}

// canonical encodes a decoded JSON value; null becomes nil (SQL NULL).
func canonical(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	return appendCanonical(nil, v)
}

func appendCanonical(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case string:
		return appendString(b, v), nil
	case json.Number:
		n, err := canonicalNumber(string(v))
		if err != nil {
			return nil, err
		}
		return append(b, n...), nil
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendCanonical(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendCanonical(b, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("canonical json: unexpected %T", v)
}

func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s { // ranging replaces invalid UTF-8 with U+FFFD, as encoding/json does
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == 0:
			b = utf8.AppendRune(b, utf8.RuneError)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// maxDigits bounds a number's digits either side of the point, well inside what numeric
// stores, so a hostile exponent cannot make the canonical form huge.
const maxDigits = 1000

// canonicalNumber writes a JSON number literal as its exact value in plain decimal.
func canonicalNumber(s string) (string, error) {
	bad := func() (string, error) { return "", fmt.Errorf("canonical json: number %.40q out of range", s) }
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > maxDigits*2 || e < -maxDigits*2 {
			return bad()
		}
		mant, exp = s[:i], e
	}
	digits := mant
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		digits = mant[:i] + mant[i+1:]
		exp -= len(mant) - i - 1
	}
	// value = digits × 10^exp
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0", nil
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = trimmed
	var out string
	switch point := len(digits) + exp; {
	case exp >= 0:
		if point > maxDigits {
			return bad()
		}
		out = digits + strings.Repeat("0", exp)
	case point > 0:
		out = digits[:point] + "." + digits[point:]
	default:
		if -exp > maxDigits {
			return bad()
		}
		out = "0." + strings.Repeat("0", -point) + digits
	}
	if neg {
		out = "-" + out
	}
	return out, nil
}
