package chain

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestCanonicalNumber(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"0.000", "0"}, {"1", "1"}, {"-12", "-12"},
		{"1.50", "1.5"}, {"15e-1", "1.5"}, {"1E+3", "1000"}, {"1e21", "1000000000000000000000"},
		{"1e-7", "0.0000001"}, {"-0.00120e2", "-0.12"}, {"100", "100"}, {"120.0", "120"},
		{"12345678901234567890123", "12345678901234567890123"}, {"0.1", "0.1"}, {"10.01", "10.01"},
	} {
		got, err := canonicalNumber(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("canonicalNumber(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"1e5000", "1e-5000", "1e99999999999999999999"} {
		if got, err := canonicalNumber(in); err == nil {
			t.Errorf("canonicalNumber(%q) = %q, want an error", in, got)
		}
	}
}

// What PostgreSQL's jsonb prints back (keys reordered by length, spaces, numbers as numeric)
// must encode to the bytes that were hashed.
func TestCanonicalSurvivesJSONBRespelling(t *testing.T) {
	for _, tc := range []struct{ ours, jsonb string }{
		{`{"b":1,"aa":[1,2.5,"x"]}`, `{"b": 1, "aa": [1, 2.5, "x"]}`},
		{`{"n":1e21,"m":1.50,"k":-0}`, `{"k": 0, "m": 1.50, "n": 1000000000000000000000}`},
		{`{"s":"<a&b>\u2028é\u0001"}`, `{"s": "<a&b>` + "\u2028" + `é\u0001"}`},
		{`{"s":"nul\u0000"}`, `{"s": "nul` + "\uFFFD" + `"}`},
	} {
		a, err := decode([]byte(tc.ours))
		if err != nil {
			t.Fatal(err)
		}
		b, err := decode([]byte(tc.jsonb))
		if err != nil {
			t.Fatal(err)
		}
		ca, err1 := canonical(a)
		cb, err2 := canonical(b)
		if err1 != nil || err2 != nil || string(ca) != string(cb) {
			t.Errorf("canonical(%s) = %s, canonical(%s) = %s (%v, %v)", tc.ours, ca, tc.jsonb, cb, err1, err2)
		}
	}
}

func TestHashCoversEveryField(t *testing.T) {
	base := Logged{
		TenantID: uuid.MustParse("0190f1a2-0000-7000-8000-000000000001"), Seq: 7,
		ID: uuid.MustParse("0190f1a2-0000-7000-8000-000000000002"),
		At: time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC), Actor: "user:1", Action: "merchant.approve",
		ResourceType: "merchant", ResourceID: "m1", Before: json.RawMessage(`{"a":1}`),
		After: json.RawMessage(`{"a":2}`), Diff: json.RawMessage(`{"a":{"from":1,"to":2}}`),
		IP: "192.0.2.1", RequestID: "r1", PrevHash: make([]byte, 32),
	}
	h0, err := Hash(base)
	if err != nil {
		t.Fatal(err)
	}
	// The same entry as jsonb spells it and in another time zone hashes the same.
	same := base
	same.Before, same.At = json.RawMessage(`{"a": 1.0}`), base.At.In(time.FixedZone("CST", 8*3600))
	if h, _ := Hash(same); string(h) != string(h0) {
		t.Error("respelt JSON or another zone changed the hash")
	}
	for name, change := range map[string]func(*Logged){
		"tenant":        func(l *Logged) { l.TenantID = uuid.Nil },
		"seq":           func(l *Logged) { l.Seq++ },
		"id":            func(l *Logged) { l.ID = uuid.Nil },
		"at":            func(l *Logged) { l.At = l.At.Add(time.Microsecond) },
		"actor":         func(l *Logged) { l.Actor = "user:2" },
		"action":        func(l *Logged) { l.Action = "merchant.reject" },
		"resource_type": func(l *Logged) { l.ResourceType = "product" },
		"resource_id":   func(l *Logged) { l.ResourceID = "m2" },
		"before":        func(l *Logged) { l.Before = json.RawMessage(`{"a":1.01}`) },
		"after":         func(l *Logged) { l.After = nil },
		"diff":          func(l *Logged) { l.Diff = json.RawMessage(`{}`) },
		"ip":            func(l *Logged) { l.IP = "192.0.2.2" },
		"request_id":    func(l *Logged) { l.RequestID = "r2" },
		"prev_hash":     func(l *Logged) { l.PrevHash = append(make([]byte, 31), 1) },
	} {
		l := base
		change(&l)
		if h, err := Hash(l); err != nil || string(h) == string(h0) {
			t.Errorf("changing %s left the hash as it was (err %v)", name, err)
		}
	}
}

func TestDiff(t *testing.T) {
	type merchant struct {
		Name         string            `json:"name"`
		Status       string            `json:"status"`
		PasswordHash *string           `json:"password_hash"`
		Settings     map[string]string `json:"settings,omitempty"`
	}
	pw := "$argon2id$..."
	for _, tc := range []struct {
		name          string
		before, after any
		want          string
	}{
		{"changed fields only", merchant{Name: "A", Status: "pending"}, merchant{Name: "A", Status: "active"},
			`{"status":{"from":"pending","to":"active"}}`},
		{"creation", nil, map[string]any{"name": "A"}, `{"name":{"from":null,"to":"A"}}`},
		{"deletion", map[string]any{"name": "A"}, nil, `{"name":{"from":"A","to":null}}`},
		{"no change", merchant{Name: "A"}, merchant{Name: "A"}, `{}`},
		{"numbers compare by value", map[string]any{"n": json.Number("1.0")}, map[string]any{"n": 1}, `{}`},
		{"secret set: shown as changed, value hidden", merchant{Name: "A"}, merchant{Name: "A", PasswordHash: &pw},
			`{"password_hash":{"from":null,"to":"[redacted]"}}`},
		{"nested secrets redacted", map[string]any{"cfg": map[string]any{"api_token": "t1", "x": 1}},
			map[string]any{"cfg": map[string]any{"api_token": "t2", "x": 1}},
			`{"cfg":{"from":{"api_token":"[redacted]","x":1},"to":{"api_token":"[redacted]","x":1}}}`},
		{"not an object", "a", "b", `{"value":{"from":"a","to":"b"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := canonical(Diff(tc.before, tc.after))
			if err != nil || string(got) != tc.want {
				t.Errorf("Diff = %s (%v), want %s", got, err, tc.want)
			}
		})
	}
	if d := Diff(make(chan int), nil); d != nil {
		t.Errorf("Diff of an unencodable value = %v, want nil", d)
	}
}

func TestChangeOfRedactsStoredValues(t *testing.T) {
	before := map[string]any{"email": "a@example.com", "password_hash": "h1", "totp_secret": nil,
		"Webhook": map[string]any{"SigningSecret": "s", "url": "https://x"}, "keys": []any{map[string]any{"token": "t"}}}
	after := map[string]any{"email": "a@example.com", "password_hash": "h2", "totp_secret": nil,
		"Webhook": map[string]any{"SigningSecret": "s", "url": "https://x"}, "keys": []any{map[string]any{"token": "t"}}}
	b, a, d, err := changeOf(before, after)
	if err != nil {
		t.Fatal(err)
	}
	wantStored := `{"Webhook":{"SigningSecret":"[redacted]","url":"https://x"},"email":"a@example.com","keys":[{"token":"[redacted]"}],"password_hash":"[redacted]","totp_secret":null}`
	if string(b) != wantStored || string(a) != wantStored {
		t.Errorf("stored before/after:\n%s\n%s\nwant %s", b, a, wantStored)
	}
	if want := `{"password_hash":{"from":"[redacted]","to":"[redacted]"}}`; string(d) != want {
		t.Errorf("diff = %s, want %s", d, want)
	}
	var m map[string]any
	if err := json.Unmarshal(d, &m); err != nil || !reflect.DeepEqual(m, map[string]any{
		"password_hash": map[string]any{"from": Redacted, "to": Redacted}}) {
		t.Errorf("diff does not decode as expected: %v %v", m, err)
	}
	if b, a, d, err := changeOf(nil, nil); b != nil || a != nil || d != nil || err != nil {
		t.Errorf("changeOf(nil, nil) = %s, %s, %s, %v; want all NULL", b, a, d, err)
	}
}
