package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/console"
	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/platform/web"
	"mercato/platform/web/browsertest"
	"mercato/platform/webhooksout"
	"mercato/tenants"
	"mercato/tenants/staff"
)

// withWebhooks serves w's console again with the webhooks service, the way apps/mercato
// wires it (Jobs nil: tests call Deliver themselves). With listen it also serves on a
// loopback port, for the browser.
func withWebhooks(t *testing.T, w *world, listen bool) *webhooksout.Service {
	t.Helper()
	s, err := webhooksout.New(w.f.App, webhooksout.Config{SecretKey: strings.Repeat("w", 40), Audit: audit.Recorder{},
		// A receiver on this machine: the dev guard (MERCATO_WEBHOOKS_ALLOW_INSECURE), tests only.
		Guard: webhooksout.Guard{AllowInsecure: true, AllowLoopback: true}})
	if err != nil {
		t.Fatal(err)
	}
	enf, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	if listen {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		w.baseHost = fmt.Sprintf("localhost:%d", ln.Addr().(*net.TCPAddr).Port)
		w.URL = "http://" + w.baseHost
	}
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	if err := web.Assets(app); err != nil {
		t.Fatal(err)
	}
	app.Use(console.Prefix, identity.Authenticate(w.ids, identity.StaffCookie))
	if err := console.Routes(app, console.Deps{
		Identity: w.ids, Enforcer: enf, Tenants: tenants.NewService(w.f.App, "localhost"), Merchants: w.merchants, Staff: w.staff,
		DB: w.f.App, Mailer: w.mail, FlashKey: flashKey, BaseHost: w.baseHost, Log: slog.New(slog.DiscardHandler), Webhooks: s,
	}); err != nil {
		t.Fatal(err)
	}
	w.app = app
	if listen {
		go func() { _ = app.Listener(ln) }()
		t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	}
	return s
}

// queueEvent records an event the way a slice would, in its own tenant transaction.
func (w *world) queueEvent(s *webhooksout.Service, tenantID, merchantID uuid.UUID, typ string, payload any) []uuid.UUID {
	w.t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	var ids []uuid.UUID
	err := w.f.App.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		ids, err = s.Queue(ctx, tx, tenantID, merchantID, typ, uuid.Must(uuid.NewV7()), payload)
		return err
	})
	if err != nil {
		w.t.Fatalf("queue %s: %v", typ, err)
	}
	return ids
}

// hookReceiver is a loopback webhook receiver that keeps what it gets.
type hookReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []http.Header
	body [][]byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got, r.body = append(r.got, req.Header.Clone()), append(r.body, b)
		r.mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) requests() ([]http.Header, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.got...), append([][]byte(nil), r.body...)
}

var secretOnPage = regexp.MustCompile(`id="webhook-secret"[^>]*value="(whsec_[A-Za-z0-9_-]+)"`)

// webhookKey finds catalogue keys of the webhook pages that leaked untranslated.
var webhookKey = regexp.MustCompile(`\b(webhooks|console\.field|console\.error)\.[a-z_]+(\.[a-z_]+)*\b`)

// The pages follow the policy's webhooks capability: owners, administrators and store owners
// may open them; marketplace staff and store staff may not, and are not offered them. Without
// the service the pages do not exist.
func TestWebhooksAuthorization(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	if r := w.get(owner, "/console/webhooks"); r.status != http.StatusNotFound || strings.Contains(navOf(r.body), "Webhooks") {
		t.Errorf("without the service: %d, nav %q", r.status, navOf(r.body))
	}
	s := withWebhooks(t, w, false)
	if _, err := w.staff.Add(w.asStaff("owner@lumen-goods.test", ""), w.tenant["lumen"], "owner@nordic-knits.test", staff.RoleTenantAdmin, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	admin := w.signIn("owner@nordic-knits.test")
	w.post(admin, "/console/switch", url.Values{"tenant": {w.tenant["lumen"].String()}, "merchant": {uuid.Nil.String()}})
	ep, _, err := s.CreateEndpoint(w.asStaff("owner@lumen-goods.test", ""), w.tenant["lumen"],
		webhooksout.EndpointInput{URL: "https://hooks.example.com/lumen", EventTypes: []string{"order.paid"}})
	if err != nil {
		t.Fatal(err)
	}
	epPath := "/console/webhooks/" + ep.ID.String()

	ok, no := http.StatusOK, http.StatusForbidden
	for _, tc := range []struct {
		who  *who
		want int
	}{
		{owner, ok},
		{admin, ok},
		{w.signIn("moderator@lumen-goods.test"), no},
		{w.signIn("owner@northwind.test"), ok},
		{w.signIn("packer@northwind.test"), no},
	} {
		r := w.get(tc.who, "/console/webhooks")
		if r.status != tc.want {
			t.Errorf("%s GET /console/webhooks: %d, want %d", tc.who.name, r.status, tc.want)
		}
		if r := w.get(tc.who, "/console"); strings.Contains(navOf(r.body), "Webhooks") != (tc.want == ok) {
			t.Errorf("%s: navigation %q", tc.who.name, navOf(r.body))
		}
	}
	if r := w.get(anonymous, epPath); r.status != http.StatusSeeOther || r.location != "/console/login?next="+url.QueryEscape(epPath) {
		t.Errorf("anonymous: %d %q", r.status, r.location)
	}

	// Writes the policy refuses: tenant and store staff write nothing; administrators may not
	// delete (roles.csv gives them read and write on /v1/webhooks, not delete).
	moderator, packer := w.signIn("moderator@lumen-goods.test"), w.signIn("packer@northwind.test")
	create := func() url.Values {
		return url.Values{"url": {"https://hooks.example.com/x"}, "event_types": {"order.paid"}}
	}
	for _, tc := range []struct {
		who  *who
		path string
		form url.Values
	}{
		{moderator, "/console/webhooks", create()},
		{moderator, epPath + "/disable", nil},
		{moderator, epPath + "/rotate", nil},
		{packer, "/console/webhooks", create()},
		{admin, epPath + "/delete", nil},
	} {
		if r := w.post(tc.who, tc.path, tc.form); r.status != http.StatusForbidden {
			t.Errorf("%s POST %s: %d, want 403", tc.who.name, tc.path, r.status)
		}
	}
	page := must(s.Endpoints(context.Background(), w.tenant["lumen"], httpx.PageParams{}))(t)
	if len(page.Items) != 1 || page.Items[0].Status != webhooksout.StatusActive {
		t.Errorf("refused writes changed the endpoints: %+v", page.Items)
	}
	// An administrator may add and disable; only the owner deletes.
	if r := w.post(admin, "/console/webhooks", create()); r.status != http.StatusOK || !secretOnPage.MatchString(r.body) {
		t.Errorf("admin adds an endpoint: %d %s", r.status, excerpt(r.body))
	}
	if r := w.post(admin, epPath+"/disable", nil); r.status != http.StatusSeeOther {
		t.Errorf("admin disables: %d", r.status)
	}
	if r := w.post(owner, epPath+"/delete", nil); r.status != http.StatusSeeOther {
		t.Errorf("owner deletes: %d", r.status)
	}
}

// Another tenant's endpoints and deliveries, and in a store's scope the marketplace's and
// other stores' ones, answer 404 and change nothing.
func TestWebhooksOtherTenantsIDsAreNotFound(t *testing.T) {
	w := newWorld(t, false)
	s := withWebhooks(t, w, false)
	rcv := newHookReceiver(t)
	mk := func(tenantSlug, email, handle, typ string) (uuid.UUID, uuid.UUID) {
		t.Helper()
		ctx := w.asStaff(email, handle)
		e, _, err := s.CreateEndpoint(ctx, w.tenant[tenantSlug], webhooksout.EndpointInput{URL: rcv.srv.URL + "/" + tenantSlug, EventTypes: []string{typ}})
		if err != nil {
			t.Fatal(err)
		}
		var m uuid.UUID
		if handle != "" {
			m = w.merchant[handle]
		}
		ids := w.queueEvent(s, w.tenant[tenantSlug], m, typ, map[string]int{"n": 1})
		for _, id := range ids {
			if _, err := s.Deliver(context.Background(), w.tenant[tenantSlug], id); err != nil {
				t.Fatal(err)
			}
		}
		return e.ID, ids[len(ids)-1]
	}
	panda, pandaDelivery := mk("panda", "owner@panda-market.test", "", "order.paid")
	lumen, lumenDelivery := mk("lumen", "owner@lumen-goods.test", "", "order.created")
	oak, oakDelivery := mk("lumen", "owner@lumen-goods.test", "oak-and-ash", "product.created")

	owner, nwOwner := w.signIn("owner@lumen-goods.test"), w.signIn("owner@northwind.test")
	for _, tc := range []struct {
		who        *who
		ep, deliv  uuid.UUID
		whose      string
		ownDeliv   uuid.UUID // a delivery the person may see, under someone else's endpoint path
		ownDelivEP uuid.UUID
	}{
		{owner, panda, pandaDelivery, "Panda's", lumenDelivery, panda},
		{nwOwner, lumen, lumenDelivery, "the marketplace's", uuid.Nil, uuid.Nil},
		{nwOwner, oak, oakDelivery, "Oak & Ash's", uuid.Nil, uuid.Nil},
	} {
		base := "/console/webhooks/" + tc.ep.String()
		for _, r := range []struct{ method, path string }{
			{"GET", base},
			{"POST", base + "/rotate"},
			{"POST", base + "/disable"},
			{"POST", base + "/enable"},
			{"POST", base + "/delete"},
			{"POST", base + "/deliveries/" + tc.deliv.String() + "/replay"},
		} {
			var res response
			if r.method == "GET" {
				res = w.get(tc.who, r.path)
			} else {
				res = w.post(tc.who, r.path, nil)
			}
			if res.status != http.StatusNotFound || !strings.Contains(res.body, "Page not found") {
				t.Errorf("%s on %s endpoint: %s %s: %d", tc.who.name, tc.whose, r.method, r.path, res.status)
			}
		}
		if tc.ownDeliv != uuid.Nil { // the person's own delivery under a foreign endpoint's path
			if res := w.post(tc.who, "/console/webhooks/"+tc.ownDelivEP.String()+"/deliveries/"+tc.ownDeliv.String()+"/replay", nil); res.status != http.StatusNotFound {
				t.Errorf("%s: own delivery under %s endpoint: %d", tc.who.name, tc.whose, res.status)
			}
		}
	}
	for _, path := range []string{"/console/webhooks/not-a-uuid", "/console/webhooks/" + uuid.NewString()} {
		if r := w.get(owner, path); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, r.status)
		}
	}
	for _, tc := range []struct {
		tenant, ep uuid.UUID
	}{{w.tenant["panda"], panda}, {w.tenant["lumen"], lumen}, {w.tenant["lumen"], oak}} {
		e, err := s.Endpoint(context.Background(), tc.tenant, tc.ep)
		if err != nil || e.Status != webhooksout.StatusActive {
			t.Errorf("endpoint %s after foreign posts: %+v %v", tc.ep, e, err)
		}
		log := must(s.Deliveries(context.Background(), tc.tenant, tc.ep, httpx.PageParams{}))(t)
		if len(log.Items) != 1 {
			t.Errorf("endpoint %s has %d deliveries after foreign replays", tc.ep, len(log.Items))
		}
	}
	// The store owner's list shows none of them.
	if r := w.get(nwOwner, "/console/webhooks"); strings.Contains(r.body, rcv.srv.URL) {
		t.Errorf("Northwind's owner sees others' endpoints: %s", excerpt(r.body))
	}
}

// Every webhook form needs the session's CSRF token; without it nothing happens.
func TestWebhooksCSRF(t *testing.T) {
	w := newWorld(t, false)
	s := withWebhooks(t, w, false)
	owner, other := w.signIn("owner@lumen-goods.test"), w.signIn("moderator@lumen-goods.test")
	ep, _, err := s.CreateEndpoint(w.asStaff("owner@lumen-goods.test", ""), w.tenant["lumen"],
		webhooksout.EndpointInput{URL: "https://hooks.example.com/lumen", EventTypes: []string{"order.paid"}})
	if err != nil {
		t.Fatal(err)
	}
	base := "/console/webhooks/" + ep.ID.String()
	for _, p := range []string{"/console/webhooks", base + "/rotate", base + "/disable", base + "/enable", base + "/delete",
		base + "/deliveries/" + uuid.NewString() + "/replay"} {
		for name, token := range map[string]string{"missing": "", "another session's": other.csrf} {
			r := w.post(owner, p, url.Values{"_csrf": {token}, "url": {"https://hooks.example.com/new"}, "event_types": {"order.paid"}})
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
				t.Errorf("POST %s with a %s token: %d %s", p, name, r.status, excerpt(r.body))
			}
		}
	}
	page := must(s.Endpoints(context.Background(), w.tenant["lumen"], httpx.PageParams{}))(t)
	if len(page.Items) != 1 || page.Items[0].Status != webhooksout.StatusActive {
		t.Errorf("forged posts changed the endpoints: %+v", page.Items)
	}
}

// A tenant owner's and a store owner's way through the pages: a refused form keeps what was
// typed; the secret is shown once and nowhere else; the log shows a delivery, which can be
// sent again (not while pending); disable, enable, rotate, delete.
func TestWebhooksPages(t *testing.T) {
	w := newWorld(t, false)
	s := withWebhooks(t, w, false)
	rcv := newHookReceiver(t)
	owner := w.signIn("owner@lumen-goods.test")
	lumen := w.tenant["lumen"]

	r := w.get(owner, "/console/webhooks")
	if r.status != http.StatusOK || !strings.Contains(text(r.body), "No endpoints yet") || strings.Count(r.body, `name="event_types"`) != len(webhooksout.EventTypes()) {
		t.Fatalf("empty page: %d %s", r.status, excerpt(r.body))
	}
	for _, et := range webhooksout.EventTypes() {
		if !strings.Contains(r.body, `value="`+et.Name+`"`) {
			t.Errorf("the form does not offer %s", et.Name)
		}
	}

	// Refused: a private address, then no events. The form keeps what was typed.
	r = w.post(owner, "/console/webhooks", url.Values{"url": {"https://10.1.2.3/hook"}, "description": {"ERP"}, "event_types": {"order.paid", "review.created"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Enter an https URL on a public address") ||
		!strings.Contains(r.body, `value="ERP"`) || !strings.Contains(r.body, `id="f-url-error"`) {
		t.Errorf("refused URL: %d %s", r.status, excerpt(r.body))
	}
	if strings.Count(r.body, " checked") != 2 {
		t.Errorf("ticked types not kept: %d checked", strings.Count(r.body, " checked"))
	}
	r = w.post(owner, "/console/webhooks", url.Values{"url": {"https://hooks.example.com/erp"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `<p class="field-error" id="f-event-types-error">`) ||
		!strings.Contains(r.body, "Choose at least one event type.") || !strings.Contains(r.body, `value="https://hooks.example.com/erp"`) {
		t.Errorf("no events: %d %s", r.status, excerpt(r.body))
	}

	// Added: the secret once, on a page no cache keeps.
	r = w.post(owner, "/console/webhooks", url.Values{"url": {rcv.srv.URL + "/hook"}, "description": {"ERP"}, "event_types": {"order.paid", "order.created"}})
	m := secretOnPage.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("created: %d %q %s", r.status, r.header.Get("Cache-Control"), excerpt(r.body))
	}
	secret := m[1]
	page := must(s.Endpoints(context.Background(), lumen, httpx.PageParams{}))(t)
	if len(page.Items) != 1 {
		t.Fatalf("%d endpoints", len(page.Items))
	}
	ep := page.Items[0]
	base := "/console/webhooks/" + ep.ID.String()
	for _, p := range []string{"/console/webhooks", base} {
		r := w.get(owner, p)
		if r.status != http.StatusOK || strings.Contains(r.body, secret) || strings.Contains(r.body, "whsec_") {
			t.Errorf("GET %s: %d, or it shows the secret", p, r.status)
		}
		if leaked := webhookKey.FindAllString(regexp.MustCompile(`(?s)<code[^>]*>.*?</code>`).ReplaceAllString(r.body, ""), -1); len(leaked) > 0 {
			t.Errorf("GET %s: untranslated keys %v", p, leaked)
		}
	}
	if r := w.get(owner, base); !strings.Contains(text(r.body), "Nothing sent yet") {
		t.Errorf("empty log: %s", excerpt(r.body))
	}

	// A delivery in the log, signed with the secret shown.
	ids := w.queueEvent(s, lumen, uuid.Nil, "order.paid", map[string]string{"order_id": "o-1"})
	if res := must(s.Deliver(context.Background(), lumen, ids[0]))(t); res.Status != webhooksout.DeliverySucceeded {
		t.Fatalf("deliver: %+v", res)
	}
	headers, bodies := rcv.requests()
	if err := webhooksout.Verify(secret, headers[0].Get(webhooksout.SignatureHeader), bodies[0], time.Now(), 0); err != nil {
		t.Errorf("the secret shown does not verify: %v", err)
	}
	r = w.get(owner, base)
	row := regexp.MustCompile(`(?s)<tr data-delivery="` + ids[0].String() + `" data-status="succeeded">.*?</tr>`).FindString(r.body)
	for _, want := range []string{"order.paid", "Delivered", ">204<", "Send again"} {
		if !strings.Contains(row, want) {
			t.Errorf("log row lacks %q: %s", want, text(row))
		}
	}

	// Send again: a pending copy; sending that again is refused with a reason.
	r = w.follow(owner, w.post(owner, base+"/deliveries/"+ids[0].String()+"/replay", nil))
	if got := flashOf(r.body); got != "order.paid is queued to be sent again." {
		t.Errorf("replay flash %q", got)
	}
	log := must(s.Deliveries(context.Background(), lumen, ep.ID, httpx.PageParams{}))(t)
	if len(log.Items) != 2 || log.Items[0].Status != webhooksout.DeliveryPending {
		t.Fatalf("log after replay: %+v", log.Items)
	}
	r = w.follow(owner, w.post(owner, base+"/deliveries/"+log.Items[0].ID.String()+"/replay", nil))
	if got := flashOf(r.body); !strings.Contains(got, "still being tried") {
		t.Errorf("replay of a pending delivery: %q", got)
	}

	// Disable, enable, rotate.
	r = w.follow(owner, w.post(owner, base+"/disable", nil))
	if got := flashOf(r.body); got != ep.URL+" is disabled." || !strings.Contains(r.body, `id="enable"`) || strings.Contains(r.body, "Send again") {
		t.Errorf("disable: %q", got)
	}
	r = w.follow(owner, w.post(owner, base+"/enable", nil))
	if got := flashOf(r.body); got != ep.URL+" is enabled." || !strings.Contains(r.body, `id="disable"`) {
		t.Errorf("enable: %q", got)
	}
	r = w.post(owner, base+"/rotate", nil)
	m = secretOnPage.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil || m[1] == secret || !strings.Contains(r.body, "The new signing secret") || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("rotate: %d %s", r.status, excerpt(r.body))
	}

	// A store owner: only a store's event types, the store's own endpoint, seen by the
	// marketplace's owner with the store's name.
	nw := w.signIn("owner@northwind.test")
	r = w.get(nw, "/console/webhooks")
	if strings.Contains(r.body, `value="order.paid"`) || !strings.Contains(r.body, `value="product.created"`) || strings.Contains(r.body, rcv.srv.URL) {
		t.Errorf("store owner's page: %s", excerpt(r.body))
	}
	if r := w.post(nw, "/console/webhooks", url.Values{"url": {"https://hooks.example.com/nw"}, "event_types": {"order.paid"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("store owner subscribing to order.paid: %d", r.status)
	}
	if r := w.post(nw, "/console/webhooks", url.Values{"url": {"https://hooks.example.com/nw"}, "event_types": {"product.created"}}); r.status != http.StatusOK {
		t.Errorf("store owner adds: %d %s", r.status, excerpt(r.body))
	}
	r = w.get(owner, "/console/webhooks")
	if !strings.Contains(text(r.body), "Store: Northwind Lighting") || !strings.Contains(text(r.body), "2 endpoints") {
		t.Errorf("the owner's list: %s", excerpt(r.body))
	}

	// Delete.
	r = w.follow(owner, w.post(owner, base+"/delete", nil))
	if got := flashOf(r.body); got != ep.URL+" is deleted." || strings.Contains(r.body, `data-url="`+ep.URL) {
		t.Errorf("delete: %q", got)
	}
	if _, err := s.Endpoint(context.Background(), lumen, ep.ID); err == nil {
		t.Error("the endpoint is still there")
	}
}

// Every event type has a description in both languages, so a new type never shows a key.
func TestWebhookEventTypesAreTranslated(t *testing.T) {
	w := newWorld(t, false)
	withWebhooks(t, w, false)
	owner := w.signIn("owner@lumen-goods.test")
	for _, lang := range []string{"en", "zh-CN"} {
		owner.cookies[web.LocaleCookie] = lang
		r := w.get(owner, "/console/webhooks")
		for _, et := range webhooksout.EventTypes() {
			if strings.Contains(r.body, "webhooks.event."+et.Name) {
				t.Errorf("%s: no description of %s", lang, et.Name)
			}
		}
	}
}

// TestWebhooksInBrowser is a tenant owner connecting their ERP: add an endpoint, copy the
// secret shown once, see an event arrive in the delivery log and send it again, rotate the
// secret, disable and enable, and delete, each destructive step after its confirmation.
// There is no "Send test event" button: EventTypes has no ping type.
func TestWebhooksInBrowser(t *testing.T) {
	w := newWorld(t, false)
	s := withWebhooks(t, w, true)
	rcv := newHookReceiver(t)
	lumen := w.tenant["lumen"]
	b := browsertest.New(t)
	page := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		if name != "" {
			b.Screenshot(name)
		}
	}

	b.Visit(w.URL + "/console/webhooks")
	b.Fill("#f-email", "owner@lumen-goods.test")
	b.Fill("#f-password", demo.Password)
	if st := b.Submit("#sign-in"); st != 200 || !strings.HasSuffix(b.URL(), "/console/webhooks") {
		t.Fatalf("sign in: %d %s", st, b.URL())
	}
	if got := b.Text("h1"); got != "Webhooks" {
		t.Errorf("h1 %q", got)
	}
	if got := b.Text(".empty h2"); got != "No endpoints yet" {
		t.Errorf("empty state %q", got)
	}
	if b.Count(`.site-nav a[href="/console/webhooks"][aria-current="page"]`) != 1 {
		t.Error("the navigation does not mark Webhooks")
	}
	page("")

	// A refused URL keeps what was typed and says why beside the field.
	b.Fill("#f-url", "https://169.254.169.254/latest")
	b.Fill("#f-description", "ERP order sync")
	b.Click("#event-order-paid")
	if st := b.Submit("#add-endpoint-submit"); st != 422 || !strings.Contains(b.Text("#f-url-error"), "public address") {
		t.Errorf("metadata address: %d %q", st, b.Text("#f-url-error"))
	}
	var checked bool
	b.Eval(`document.querySelector("#event-order-paid").checked`, &checked)
	if !checked {
		t.Error("the ticked event type was lost")
	}
	page("")

	b.Fill("#f-url", rcv.srv.URL+"/mercato")
	b.Click("#event-order-created")
	if st := b.Submit("#add-endpoint-submit"); st != 200 {
		t.Fatalf("add endpoint: %d", st)
	}
	if got := b.Text("h1"); got != "Your endpoint's signing secret" {
		t.Errorf("secret page h1 %q", got)
	}
	var secret string
	b.Eval(`document.querySelector("#webhook-secret").value`, &secret)
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Errorf("the secret shown: %q", secret)
	}
	page("console-webhook-secret-en")
	b.Submit("#done")
	if got := b.Text("#endpoint-events"); got != "order.created, order.paid" {
		t.Errorf("events %q", got)
	}
	var body string
	b.Eval(`document.body.innerHTML`, &body)
	if strings.Contains(body, secret) {
		t.Error("the endpoint page shows the secret")
	}
	page("")

	// An order is paid: the event is queued and one attempt is made (the worker's job).
	ids := w.queueEvent(s, lumen, uuid.Nil, "order.paid", map[string]any{"order_id": "o-1001", "total": map[string]any{"minor": 35600, "currency": "USD"}})
	if res, err := s.Deliver(context.Background(), lumen, ids[0]); err != nil || res.Status != webhooksout.DeliverySucceeded {
		t.Fatalf("deliver: %+v %v", res, err)
	}
	headers, bodies := rcv.requests()
	if len(headers) != 1 || webhooksout.Verify(secret, headers[0].Get(webhooksout.SignatureHeader), bodies[0], time.Now(), 0) != nil {
		t.Fatalf("the receiver got %d requests, or the copied secret does not verify", len(headers))
	}
	b.Visit(b.URL())
	row := `#deliveries tr[data-delivery="` + ids[0].String() + `"]`
	for sel, want := range map[string]string{
		row + " td:nth-child(2)": "order.paid",
		row + " td:nth-child(3)": "1",
		row + " td:nth-child(4)": "Delivered",
		row + " td:nth-child(5)": "204",
	} {
		if got := b.Text(sel); got != want {
			t.Errorf("log %s: %q, want %q", sel, got, want)
		}
	}
	page("console-webhook-en")

	// Send it again.
	b.Submit(row + " button.replay")
	if got := b.Text(".flash"); got != "order.paid is queued to be sent again." {
		t.Errorf("replay flash %q", got)
	}
	if b.Count(`#deliveries tr[data-status="pending"]`) != 1 {
		t.Error("no pending copy in the log")
	}
	page("")

	// Rotate, after the confirmation: a new secret, once.
	b.Click("#rotate")
	b.WaitVisible("#confirm-dialog")
	if got := b.Text("#confirm-dialog-text"); got != "Rotate the signing secret? Update your receiver within 24 hours." {
		t.Errorf("rotate confirm %q", got)
	}
	b.Submit(`#confirm-dialog button[value="ok"]`)
	var rotated string
	b.Eval(`document.querySelector("#webhook-secret").value`, &rotated)
	if b.Text("h1") != "The new signing secret" || !strings.HasPrefix(rotated, "whsec_") || rotated == secret {
		t.Errorf("rotated: %q %q", b.Text("h1"), rotated)
	}
	page("")
	b.Submit("#done")

	// Disable, after the confirmation, and enable.
	b.Click("#disable")
	b.WaitVisible("#confirm-dialog")
	b.Submit(`#confirm-dialog button[value="ok"]`)
	if got := b.Text(".flash"); got != rcv.srv.URL+"/mercato is disabled." || b.Text("#endpoint-status .badge") != "Disabled" {
		t.Errorf("disable: %q %q", got, b.Text("#endpoint-status .badge"))
	}
	page("")
	b.Submit("#enable")
	if got := b.Text("#endpoint-status .badge"); got != "Active" {
		t.Errorf("enable: %q", got)
	}

	// The list.
	b.Visit(w.URL + "/console/webhooks")
	tr := `#endpoints tr[data-url="` + rcv.srv.URL + `/mercato"]`
	for sel, want := range map[string]string{
		tr + " td:nth-child(2)": "order.created, order.paid",
		tr + " td:nth-child(3)": "Active",
		tr + " td:nth-child(4)": "0",
	} {
		if got := b.Text(sel); got != want {
			t.Errorf("list %s: %q, want %q", sel, got, want)
		}
	}
	page("console-webhooks-en")

	// Delete, after the confirmation.
	b.Submit(tr + " a")
	b.Click("#delete")
	b.WaitVisible("#confirm-dialog")
	b.Submit(`#confirm-dialog button[value="ok"]`)
	if got := b.Text(".flash"); got != rcv.srv.URL+"/mercato is deleted." || b.Count("#endpoints") != 0 {
		t.Errorf("delete: %q", got)
	}
	page("")
}

// must(f())(t) is f's value, failing the test on f's error.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
