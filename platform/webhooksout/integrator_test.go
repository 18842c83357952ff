package webhooksout_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato/platform/webhooksout"
)

// verifyMercatoSignature is the receiver check of docs/webhooks.md, character for character
// (TestDocsCarryTheTestedSnippets keeps them equal): what an integrator writes with the
// standard library alone, without Mercato's packages.
func verifyMercatoSignature(secret, header string, body []byte, now time.Time) bool {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if age := now.Sub(time.Unix(sec, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	ok := false
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	return ok
}

// integrator is a receiver built the way docs/webhooks.md tells integrators to: verify the raw
// body, then act once per event id. Its clock can be moved to replay a request later.
type integrator struct {
	mu      sync.Mutex
	secret  string
	offset  time.Duration
	applied map[string]int // event id → times acted on
	raw     []*http.Request
	bodies  [][]byte
}

func (in *integrator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	in.mu.Lock()
	defer in.mu.Unlock()
	in.raw, in.bodies = append(in.raw, r.Clone(r.Context())), append(in.bodies, body)
	if err != nil || !verifyMercatoSignature(in.secret, r.Header.Get("Mercato-Signature"), body, time.Now().Add(in.offset)) {
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var ev struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &ev) != nil || ev.ID != r.Header.Get("Mercato-Event-Id") {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	in.applied[ev.ID]++
	w.WriteHeader(http.StatusNoContent)
}

// TestIntegratorVerifiesDeliveries: a real delivery passes the documented check; the same
// request replayed 301 s later, with a tampered body, against another secret, or without the
// header is refused with 400 and changes nothing.
func TestIntegratorVerifiesDeliveries(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, dev, nil, nil) // the real clock: the receiver checks against its own
	in := &integrator{applied: map[string]int{}}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	_, secret := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: srv.URL + "/webhooks/mercato", EventTypes: []string{"order.paid"}})
	in.secret = secret

	id := fx.queue(t, s, uuid.Nil, "order.paid", map[string]any{"order_id": "o-1", "total": map[string]any{"minor": 35600, "currency": "CNY"}})[0]
	res, err := s.Deliver(fx.ctx, fx.a, id)
	if err != nil || res.Status != "succeeded" {
		t.Fatalf("delivery: %+v %v", res, err)
	}
	d := must(s.Delivery(fx.ctx, fx.a, id))(t)
	if d.ResponseCode != http.StatusNoContent || len(in.applied) != 1 {
		t.Fatalf("receiver did not accept: code %d, applied %v", d.ResponseCode, in.applied)
	}
	delivered, body := in.raw[0], in.bodies[0]
	// Mercato's own Verify agrees with the integrator's check.
	if err := webhooksout.Verify(secret, delivered.Header.Get("Mercato-Signature"), body, time.Now(), 0); err != nil {
		t.Errorf("Verify: %v", err)
	}

	resend := func(header http.Header, body []byte) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/mercato", bytes.NewReader(body))
		req.Header = header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	in.mu.Lock()
	in.offset = 301 * time.Second
	in.mu.Unlock()
	if code := resend(delivered.Header, body); code != http.StatusBadRequest {
		t.Errorf("replayed 301 s later: %d, want 400", code)
	}
	in.mu.Lock()
	in.offset = 0
	in.mu.Unlock()
	tampered := bytes.Replace(body, []byte("35600"), []byte("3560"), 1)
	if bytes.Equal(tampered, body) {
		t.Fatal("the tampering changed nothing")
	}
	if code := resend(delivered.Header, tampered); code != http.StatusBadRequest {
		t.Errorf("tampered body: %d, want 400", code)
	}
	noHeader := delivered.Header.Clone()
	noHeader.Del("Mercato-Signature")
	if code := resend(noHeader, body); code != http.StatusBadRequest {
		t.Errorf("missing header: %d, want 400", code)
	}
	in.mu.Lock()
	in.secret = "whsec_someone_else"
	in.mu.Unlock()
	if code := resend(delivered.Header, body); code != http.StatusBadRequest {
		t.Errorf("wrong secret: %d, want 400", code)
	}
	if len(in.applied) != 1 || in.applied[d.EventID.String()] != 1 {
		t.Errorf("refused requests had effects: %v", in.applied)
	}
	// The check itself is not what refuses everything: the untouched request verifies now.
	if !verifyMercatoSignature(secret, delivered.Header.Get("Mercato-Signature"), body, time.Now()) {
		t.Error("the delivered request no longer verifies")
	}

	t.Run("node", func(t *testing.T) { nodeVerifies(t, secret, delivered.Header.Get("Mercato-Signature"), body) })
}

// nodeVerifies runs the Node.js snippet of docs/webhooks.md on the delivered request and the
// same refusals.
func nodeVerifies(t *testing.T, secret, header string, body []byte) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Debian package nodejs) runs the documented JavaScript receiver and is missing: %v", err)
	}
	snippet := docsBlock(t, "```js\n")
	harness := snippet + `
const cases = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const now = Date.now() / 1000;
console.log(JSON.stringify(cases.map(c =>
  verifyMercatoSignature(c.secret, c.header, Buffer.from(c.body, "base64"), now + c.later))));
`
	file := filepath.Join(t.TempDir(), "verify.js")
	if err := os.WriteFile(file, []byte(harness), 0o600); err != nil {
		t.Fatal(err)
	}
	type tc struct {
		Secret string `json:"secret"`
		Header string `json:"header"`
		Body   []byte `json:"body"`
		Later  int    `json:"later"`
	}
	tampered := bytes.Replace(body, []byte("35600"), []byte("3560"), 1)
	cases := []tc{{secret, header, body, 0}, {secret, header, body, 301}, {secret, header, tampered, 0}, {"whsec_x", header, body, 0}, {secret, "", body, 0}}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(node, file)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "[true,false,false,false,false]" {
		t.Errorf("node verdicts %s, want [true,false,false,false,false] (valid, 301 s later, tampered, wrong secret, no header)", got)
	}
}

// docsBlock returns the first code block of docs/webhooks.md that opens with fence.
func docsBlock(t *testing.T, fence string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), fence)
	block, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatalf("docs/webhooks.md has no %q block", strings.TrimSpace(fence))
	}
	return block
}

// TestDocsCarryTheTestedSnippets: the Go function in the docs is the one tested above.
func TestDocsCarryTheTestedSnippets(t *testing.T) {
	src, err := os.ReadFile("integrator_test.go")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(src), "func verifyMercatoSignature(")
	end := strings.Index(string(src)[start:], "\n}\n")
	fn := string(src)[start : start+end+3]
	if !strings.Contains(docsBlock(t, "```go\n"), fn) {
		t.Errorf("docs/webhooks.md's Go snippet differs from the tested verifyMercatoSignature:\n%s", fn)
	}
}
