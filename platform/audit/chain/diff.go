package chain

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Redacted replaces the value of every field that looks secret before anything is stored.
const Redacted = "[redacted]"

// Diff lists the top-level fields whose values differ between before and after (as JSON), as
// {"field": {"from": old, "to": new}}; a field absent on one side is null there. A value that
// is not a JSON object counts as the single field "value". Secret-looking fields show that
// they changed, never what to: {"password_hash": {"from": "[redacted]", "to": "[redacted]"}}.
// Values that cannot be encoded as JSON give nil (Record reports the error).
func Diff(before, after any) map[string]any {
	b, err := encodeValue(before)
	if err != nil {
		return nil
	}
	a, err := encodeValue(after)
	if err != nil {
		return nil
	}
	d, err := diffValues(b, a)
	if err != nil {
		return nil
	}
	return d
}

// changeOf is what Record stores: the redacted before and after and their diff, canonical.
func changeOf(before, after any) (b, a, d json.RawMessage, err error) {
	bv, err := encodeValue(before)
	if err != nil {
		return nil, nil, nil, err
	}
	av, err := encodeValue(after)
	if err != nil {
		return nil, nil, nil, err
	}
	if bv != nil || av != nil {
		dv, err := diffValues(bv, av)
		if err != nil {
			return nil, nil, nil, err
		}
		if d, err = canonical(dv); err != nil {
			return nil, nil, nil, err
		}
	}
	if b, err = canonical(redact(bv)); err != nil {
		return nil, nil, nil, err
	}
	if a, err = canonical(redact(av)); err != nil {
		return nil, nil, nil, err
	}
	return b, a, d, nil
}

// diffValues compares decoded JSON values field by field, before redaction, so that a changed
// secret still shows as changed.
func diffValues(before, after any) (map[string]any, error) {
	bm, am := fields(before), fields(after)
	d := map[string]any{}
	for k := range bm {
		if _, ok := am[k]; !ok {
			am[k] = nil
		}
	}
	for k, to := range am {
		from := bm[k]
		fb, err := appendCanonical(nil, from)
		if err != nil {
			return nil, err
		}
		tb, err := appendCanonical(nil, to)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(fb, tb) {
			continue
		}
		if secret(k) {
			from, to = redactValue(from), redactValue(to)
		}
		d[k] = map[string]any{"from": redact(from), "to": redact(to)}
	}
	return d, nil
}

// fields is v's top-level fields in a fresh map.
func fields(v any) map[string]any {
	out := map[string]any{}
	switch v := v.(type) {
	case nil:
	case map[string]any:
		for k, e := range v {
			out[k] = e
		}
	default:
		out["value"] = v
	}
	return out
}

// secret reports whether a field name looks like it holds a credential.
func secret(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "password") ||
		strings.Contains(n, "secret") || strings.Contains(n, "token") || strings.Contains(n, "hash")
}

// redactValue hides a secret's value; null stays null, so "no password set" is still visible.
func redactValue(v any) any {
	if v == nil {
		return nil
	}
	return Redacted
}

// redact returns v with every secret-looking field, at any depth, redacted.
func redact(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if secret(k) {
				out[k] = redactValue(e)
			} else {
				out[k] = redact(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = redact(e)
		}
		return out
	}
	return v
}
