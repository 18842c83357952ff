package fulfillment_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/platform/jobs"
	"mercato/platform/scope"
	"mercato/tenants/fulfillment"
	"mercato/tenants/fulfillment/carriersim"
	"mercato/tenants/orders"
)

// The simulator's clock moves a labelled parcel to delivered, its webhooks reach the route,
// and delivery completes the merchant order and the order, starting the payout hold clock.
// Webhooks sent while the shipment was being saved are dropped (200, unknown parcel); Create
// asks the carrier once after saving, so the timeline has no gap.
func TestSimulatorParcelReachesDeliveredAndOrderCompletes(t *testing.T) {
	fx := setup(t, 60*time.Millisecond)
	o := fx.paidOrder(t, "lumen", map[string][]int{"northwind-lighting": {2, 1}})
	mo := o.MerchantOrders["northwind-lighting"]
	ctx := fx.as("lumen", "northwind-lighting")
	start := time.Now()
	sh, err := fx.s.Create(ctx, fx.tenant["lumen"], fulfillment.NewShipment{MerchantOrderID: mo, Carrier: fulfillment.CarrierGenericHTTP,
		CreateLabel: true, Lines: []fulfillment.ShipmentLine{{OrderLineID: o.Lines["northwind-lighting"][0], Quantity: 2}, {OrderLineID: o.Lines["northwind-lighting"][1], Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	// The label's event at least; the simulator's clock may have moved it on already.
	if !strings.HasPrefix(sh.TrackingNumber, "SIM") || len(sh.Events) == 0 || sh.Events[0].Status != fulfillment.StatusLabelCreated {
		t.Fatalf("created: %+v", sh)
	}
	if os, mos, _ := fx.status(t, "lumen", o.ID, mo); os != orders.StatusFulfilled || mos != orders.StatusFulfilled {
		t.Fatalf("after shipping every line: order %s, merchant order %s", os, mos)
	}
	eventually(t, "delivered by webhook", func() bool {
		got, err := fx.s.Get(ctx, fx.tenant["lumen"], sh.ID)
		return err == nil && got.Status == fulfillment.StatusDelivered
	})
	elapsed := time.Since(start)
	got, _ := fx.s.Get(ctx, fx.tenant["lumen"], sh.ID)
	if s := strings.Join(statuses(got), ","); s != "label_created,in_transit,out_for_delivery,delivered" {
		t.Errorf("timeline: %s", s)
	}
	os, mos, deliveredAt := fx.status(t, "lumen", o.ID, mo)
	if os != orders.StatusCompleted || mos != orders.StatusCompleted || deliveredAt == nil {
		t.Errorf("after delivery: order %s, merchant order %s, delivered_at %v", os, mos, deliveredAt)
	}
	if n := fx.count(t, `SELECT count(*) FROM outbox WHERE kind IN ('fulfillment.shipped', 'fulfillment.delivered')`); n != 2 {
		t.Errorf("%d notice jobs, want 2 (shipped, delivered)", n)
	}
	// A poll afterwards finds nothing to ask: delivered parcels are done.
	if st, err := fx.s.Poll(context.Background(), time.Nanosecond, 10, nil); err != nil || st.Shipments != 0 {
		t.Errorf("poll after delivery: %+v %v", st, err)
	}
	t.Logf("label → delivered through %d simulator webhooks in %v (step 60 ms)", fx.sim.WebhooksDelivered(), elapsed.Round(time.Millisecond))
}

// A parcel whose first delivery fails: the shipment shows failed_delivery and the merchant
// order waits; the second attempt delivers and completes it. A returned parcel never completes.
func TestFailedDelivery(t *testing.T) {
	fx := setup(t, 0)
	fx.sim.SetWebhookURL("") // the poll alone carries the news here
	tenant := fx.tenant["lumen"]
	ctx := fx.as("lumen", "northwind-lighting")
	ship := func(number string) (paidOrder, fulfillment.Shipment) {
		o := fx.paidOrder(t, "lumen", map[string][]int{"northwind-lighting": {1}})
		fx.book(t, number)
		sh, err := fx.s.Create(ctx, tenant, fulfillment.NewShipment{MerchantOrderID: o.MerchantOrders["northwind-lighting"],
			Carrier: fulfillment.CarrierGenericHTTP, TrackingNumber: number,
			Lines: []fulfillment.ShipmentLine{{OrderLineID: o.Lines["northwind-lighting"][0], Quantity: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		return o, sh
	}
	step := func(number string, times int) fulfillment.Shipment {
		for range times {
			if _, ok := fx.sim.Advance(number); !ok {
				t.Fatalf("%s did not advance", number)
			}
		}
		if _, err := fx.s.Poll(context.Background(), time.Nanosecond, 50, nil); err != nil {
			t.Fatal(err)
		}
		o, err := fx.s.Get(ctx, tenant, uuidOf(t, fx, number))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}

	o, _ := ship("PARCEL-0001FAIL")
	mo := o.MerchantOrders["northwind-lighting"]
	if sh := step("PARCEL-0001FAIL", 3); sh.Status != fulfillment.StatusFailedDelivery {
		t.Fatalf("after the failed attempt: %s %v", sh.Status, statuses(sh))
	}
	if _, mos, _ := fx.status(t, "lumen", o.ID, mo); mos != orders.StatusFulfilled {
		t.Errorf("merchant order after a failed delivery: %s, want fulfilled", mos)
	}
	sh := step("PARCEL-0001FAIL", 2)
	if sh.Status != fulfillment.StatusDelivered || strings.Join(statuses(sh), ",") !=
		"label_created,in_transit,out_for_delivery,failed_delivery,out_for_delivery,delivered" {
		t.Errorf("after the second attempt: %s %v", sh.Status, statuses(sh))
	}
	if os, mos, _ := fx.status(t, "lumen", o.ID, mo); os != orders.StatusCompleted || mos != orders.StatusCompleted {
		t.Errorf("after the second attempt: order %s, merchant order %s", os, mos)
	}

	o2, _ := ship("PARCEL-0002RTS")
	if sh := step("PARCEL-0002RTS", 4); sh.Status != fulfillment.StatusReturned {
		t.Errorf("returned parcel: %s %v", sh.Status, statuses(sh))
	}
	if _, mos, _ := fx.status(t, "lumen", o2.ID, o2.MerchantOrders["northwind-lighting"]); mos != orders.StatusFulfilled {
		t.Errorf("merchant order of a returned parcel: %s, want fulfilled", mos)
	}
}

func uuidOf(t *testing.T, fx *fixture, number string) (id uuid.UUID) {
	t.Helper()
	p, err := fx.s.List(fx.staff("lumen"), fx.tenant["lumen"], fulfillment.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Items {
		if s.TrackingNumber == number {
			return s.ID
		}
	}
	t.Fatalf("no shipment %s", number)
	return
}

// The same scan reported by webhook and by poll, and one webhook delivered 10 times at once,
// is stored once and moves the shipment once.
func TestPollAndWebhookStoreOneEvent(t *testing.T) {
	fx := setup(t, 0)
	var mu sync.Mutex
	var last []byte
	var lastHeader http.Header
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last, lastHeader = b, r.Header.Clone()
		mu.Unlock()
	}))
	defer capture.Close()
	tenant := fx.tenant["lumen"]
	ctx := fx.as("lumen", "northwind-lighting")
	o := fx.paidOrder(t, "lumen", map[string][]int{"northwind-lighting": {1}})
	sh, err := fx.s.Create(ctx, tenant, fulfillment.NewShipment{MerchantOrderID: o.MerchantOrders["northwind-lighting"],
		Carrier: fulfillment.CarrierGenericHTTP, CreateLabel: true, Lines: []fulfillment.ShipmentLine{{OrderLineID: o.Lines["northwind-lighting"][0], Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	events := func() int {
		return fx.count(t, `SELECT count(*) FROM tracking_events WHERE shipment_id = ?`, sh.ID)
	}
	// in_transit arrives by webhook (through the route), then the poll reads the same scan.
	if _, ok := fx.sim.Advance(sh.TrackingNumber); !ok {
		t.Fatal("advance")
	}
	if n := events(); n != 2 {
		t.Fatalf("%d events after the webhook, want 2", n)
	}
	st, err := fx.s.Poll(context.Background(), time.Nanosecond, 10, nil)
	if err != nil || st.Shipments != 1 || st.Events != 0 {
		t.Errorf("poll after the webhook: %+v %v, want 1 shipment, 0 new events", st, err)
	}
	// out_for_delivery: the poll first, then the same webhook 10 times concurrently.
	fx.sim.SetWebhookURL(capture.URL)
	if _, ok := fx.sim.Advance(sh.TrackingNumber); !ok {
		t.Fatal("advance")
	}
	if st, err := fx.s.Poll(context.Background(), time.Nanosecond, 10, nil); err != nil || st.Events != 1 {
		t.Errorf("poll: %+v %v, want 1 new event", st, err)
	}
	audits := fx.count(t, `SELECT count(*) FROM audit_entries WHERE action = 'shipment.track'`)
	mu.Lock()
	body, header := last, lastHeader
	mu.Unlock()
	var wg sync.WaitGroup
	var fresh sync.Map
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, fx.hookURL, bytes.NewReader(body))
			req.Header = header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("replay %d: %d %s", i, resp.StatusCode, b)
			}
			if strings.Contains(string(b), `"new_events":1`) {
				fresh.Store(i, true)
			}
		}()
	}
	wg.Wait()
	n := 0
	fresh.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Errorf("%d of 10 replays stored an event the poll already had", n)
	}
	if got := events(); got != 3 {
		t.Errorf("%d events, want 3 (label_created, in_transit, out_for_delivery)", got)
	}
	if after := fx.count(t, `SELECT count(*) FROM audit_entries WHERE action = 'shipment.track'`); after != audits {
		t.Errorf("replays wrote %d status changes, want 0", after-audits)
	}
	got, _ := fx.s.Get(ctx, tenant, sh.ID)
	if got.Status != fulfillment.StatusOutForDelivery {
		t.Errorf("status %s", got.Status)
	}
	t.Logf("1 scan by poll + 10 concurrent identical webhooks → 1 row, 1 status change")
}

// Forged webhooks are refused with 400 and store nothing; unknown parcels are acknowledged and
// ignored; an unknown carrier is 404.
func TestWebhookRoute(t *testing.T) {
	fx := setup(t, 0)
	fx.sim.SetWebhookURL("")
	ctx := fx.as("lumen", "northwind-lighting")
	o := fx.paidOrder(t, "lumen", map[string][]int{"northwind-lighting": {1}})
	sh, err := fx.s.Create(ctx, fx.tenant["lumen"], fulfillment.NewShipment{MerchantOrderID: o.MerchantOrders["northwind-lighting"],
		Carrier: fulfillment.CarrierGenericHTTP, CreateLabel: true, Lines: []fulfillment.ShipmentLine{{OrderLineID: o.Lines["northwind-lighting"][0], Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"tracking_number":"` + sh.TrackingNumber + `","events":[{"status":"delivered","description":"x","location":"y","occurred_at":"` +
		time.Now().UTC().Format(time.RFC3339Nano) + `"}]}`)
	post := func(path string, body []byte, sig string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, strings.Replace(fx.hookURL, "/webhooks/carriers/generic_http", path, 1), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set(fulfillment.SignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const path = "/webhooks/carriers/generic_http"
	now := time.Now()
	bad := 0
	for name, tc := range map[string]struct {
		body []byte
		sig  string
	}{
		"tampered body": {bytes.Replace(body, []byte(`"x"`), []byte(`"z"`), 1), fulfillment.Sign(simSecret, now, body)},
		"wrong secret":  {body, fulfillment.Sign("wrong", now, body)},
		"301 s old":     {body, fulfillment.Sign(simSecret, now.Add(-301*time.Second), body)},
		"no signature":  {body, ""},
	} {
		if code, b := post(path, tc.body, tc.sig); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, code, b)
		} else {
			bad++
		}
	}
	if n := fx.count(t, `SELECT count(*) FROM tracking_events WHERE shipment_id = ? AND status = 'delivered'`, sh.ID); n != 0 {
		t.Errorf("forged webhooks stored %d events", n)
	}
	if _, mos, _ := fx.status(t, "lumen", o.ID, o.MerchantOrders["northwind-lighting"]); mos != orders.StatusFulfilled {
		t.Errorf("forged webhooks moved the merchant order to %s", mos)
	}
	unknown := []byte(`{"tracking_number":"NOBODYS-PARCEL","events":[]}`)
	if code, b := post(path, unknown, fulfillment.Sign(simSecret, now, unknown)); code != http.StatusOK || !strings.Contains(b, `"shipments":0`) {
		t.Errorf("unknown parcel: %d %s, want 200 and ignored", code, b)
	}
	if code, _ := post("/webhooks/carriers/no_such_carrier", body, fulfillment.Sign(simSecret, now, body)); code != http.StatusNotFound {
		t.Errorf("unknown carrier: %d, want 404", code)
	}
	if code, _ := post("/webhooks/carriers/manual", body, fulfillment.Sign(simSecret, now, body)); code != http.StatusNotFound {
		t.Errorf("manual carrier webhook: %d, want 404", code)
	}
	if code, b := post(path, body, fulfillment.Sign(simSecret, now, body)); code != http.StatusOK || !strings.Contains(b, `"new_events":1`) {
		t.Errorf("valid webhook: %d %s", code, b)
	}
	if os, mos, _ := fx.status(t, "lumen", o.ID, o.MerchantOrders["northwind-lighting"]); os != orders.StatusCompleted || mos != orders.StatusCompleted {
		t.Errorf("valid delivered webhook: order %s, merchant order %s", os, mos)
	}
	t.Logf("%d of 4 forged webhooks answered 400 with 0 events stored", bad)
}

// Lines ship in several parcels; more than ordered is refused and changes nothing; the
// merchant order completes only when the last parcel is delivered.
func TestPartialFulfilmentByLine(t *testing.T) {
	fx := setup(t, 0)
	tenant := fx.tenant["lumen"]
	ctx := fx.as("lumen", "northwind-lighting")
	o := fx.paidOrder(t, "lumen", map[string][]int{"northwind-lighting": {3, 1}, "oak-and-ash": {1}})
	mo := o.MerchantOrders["northwind-lighting"]
	a, b := o.Lines["northwind-lighting"][0], o.Lines["northwind-lighting"][1]
	first, err := fx.s.Create(ctx, tenant, fulfillment.NewShipment{MerchantOrderID: mo, Carrier: fulfillment.CarrierManual,
		TrackingNumber: "MANUAL-1", Lines: []fulfillment.ShipmentLine{{OrderLineID: a, Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if os, mos, _ := fx.status(t, "lumen", o.ID, mo); mos != orders.StatusPartiallyFulfilled || os != orders.StatusPartiallyFulfilled {
		t.Errorf("after 2 of 3 of line A: order %s, merchant order %s", os, mos)
	}
	_, err = fx.s.Create(ctx, tenant, fulfillment.NewShipment{MerchantOrderID: mo, Carrier: fulfillment.CarrierManual,
		TrackingNumber: "MANUAL-2", Lines: []fulfillment.ShipmentLine{{OrderLineID: a, Quantity: 2}, {OrderLineID: b, Quantity: 1}}})
	if !errors.Is(err, orders.ErrOverFulfil) {
		t.Errorf("shipping 4 of 3: %v, want ErrOverFulfil", err)
	}
	if n := fx.count(t, `SELECT count(*) FROM shipments WHERE merchant_order_id = ?`, mo); n != 1 {
		t.Errorf("%d shipments after the refused one, want 1", n)
	}
	second, err := fx.s.Create(ctx, tenant, fulfillment.NewShipment{MerchantOrderID: mo, Carrier: fulfillment.CarrierManual,
		TrackingNumber: "MANUAL-2", Lines: []fulfillment.ShipmentLine{{OrderLineID: a, Quantity: 1}, {OrderLineID: b, Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if os, mos, _ := fx.status(t, "lumen", o.ID, mo); mos != orders.StatusFulfilled || os != orders.StatusPartiallyFulfilled {
		t.Errorf("every line shipped, other merchant not: order %s, merchant order %s", os, mos)
	}
	if _, err := fx.s.AddEvent(ctx, tenant, second.ID, fulfillment.NewEvent{Status: fulfillment.StatusDelivered}); err != nil {
		t.Fatal(err)
	}
	if _, mos, _ := fx.status(t, "lumen", o.ID, mo); mos != orders.StatusFulfilled {
		t.Errorf("one of two parcels delivered: merchant order %s, want fulfilled", mos)
	}
	got, err := fx.s.AddEvent(ctx, tenant, first.ID, fulfillment.NewEvent{Status: fulfillment.StatusDelivered, Location: "Front door"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != fulfillment.StatusDelivered || got.DeliveredAt == nil || len(got.Lines) != 1 || got.Lines[0].Quantity != 2 {
		t.Errorf("first parcel: %+v", got)
	}
	os, mos, deliveredAt := fx.status(t, "lumen", o.ID, mo)
	if mos != orders.StatusCompleted || deliveredAt == nil || os != orders.StatusPartiallyFulfilled {
		t.Errorf("both parcels delivered: order %s, merchant order %s, delivered_at %v", os, mos, deliveredAt)
	}
	// Delivering again changes nothing.
	if _, err := fx.s.AddEvent(ctx, tenant, first.ID, fulfillment.NewEvent{Status: fulfillment.StatusInTransit}); err != nil {
		t.Fatal(err)
	}
	if again, _ := fx.s.Get(ctx, tenant, first.ID); again.Status != fulfillment.StatusDelivered {
		t.Errorf("a delivered parcel went back to %s", again.Status)
	}
}

// Shipping is the merchant's: bad input, other merchants' and tenants' orders, duplicate
// numbers and labels from the manual carrier are refused and store nothing.
func TestCreateRefusals(t *testing.T) {
	fx := setup(t, 0)
	tenant := fx.tenant["lumen"]
	ctx := fx.as("lumen", "northwind-lighting")
	o := fx.paidOrder(t, "lumen", map[string][]int{"northwind-lighting": {1}, "oak-and-ash": {1}})
	mo, line := o.MerchantOrders["northwind-lighting"], o.Lines["northwind-lighting"][0]
	valid := func() fulfillment.NewShipment {
		return fulfillment.NewShipment{MerchantOrderID: mo, Carrier: fulfillment.CarrierManual, TrackingNumber: "TRACK-1",
			Lines: []fulfillment.ShipmentLine{{OrderLineID: line, Quantity: 1}}}
	}
	kind := func(err error) fault.Kind {
		if fe := fault.As(err); fe != nil {
			return fe.Kind
		}
		return fault.Internal
	}
	for name, tc := range map[string]struct {
		ctx  context.Context
		in   func(*fulfillment.NewShipment)
		want fault.Kind
	}{
		"tenant staff":        {fx.staff("lumen"), func(*fulfillment.NewShipment) {}, fault.Forbidden},
		"no lines":            {ctx, func(n *fulfillment.NewShipment) { n.Lines = nil }, fault.Invalid},
		"zero quantity":       {ctx, func(n *fulfillment.NewShipment) { n.Lines[0].Quantity = 0 }, fault.Invalid},
		"line twice":          {ctx, func(n *fulfillment.NewShipment) { n.Lines = append(n.Lines, n.Lines[0]) }, fault.Invalid},
		"bad number":          {ctx, func(n *fulfillment.NewShipment) { n.TrackingNumber = "a b" }, fault.Invalid},
		"unknown carrier":     {ctx, func(n *fulfillment.NewShipment) { n.Carrier = "pigeon" }, fault.Invalid},
		"manual label":        {ctx, func(n *fulfillment.NewShipment) { n.TrackingNumber, n.CreateLabel = "", true }, fault.Invalid},
		"other merchant's":    {ctx, func(n *fulfillment.NewShipment) { n.MerchantOrderID = o.MerchantOrders["oak-and-ash"] }, fault.NotFound},
		"other merchant line": {ctx, func(n *fulfillment.NewShipment) { n.Lines[0].OrderLineID = o.Lines["oak-and-ash"][0] }, fault.NotFound},
		"other tenant":        {scope.WithTenant(ctx, fx.tenant["panda"]), func(*fulfillment.NewShipment) {}, fault.NotFound},
	} {
		in := valid()
		tc.in(&in)
		tid := tenant
		if name == "other tenant" {
			tid = fx.tenant["panda"]
		}
		if _, err := fx.s.Create(tc.ctx, tid, in); kind(err) != tc.want {
			t.Errorf("%s: %v (kind %d), want kind %d", name, err, kind(err), tc.want)
		}
	}
	if n := fx.count(t, `SELECT count(*) FROM shipments`); n != 0 {
		t.Fatalf("refusals stored %d shipments", n)
	}
	if _, err := fx.s.Create(ctx, tenant, valid()); err != nil {
		t.Fatal(err)
	}
	o2 := fx.paidOrder(t, "lumen", map[string][]int{"northwind-lighting": {1}})
	dup := fulfillment.NewShipment{MerchantOrderID: o2.MerchantOrders["northwind-lighting"], Carrier: fulfillment.CarrierManual,
		TrackingNumber: "TRACK-1", Lines: []fulfillment.ShipmentLine{{OrderLineID: o2.Lines["northwind-lighting"][0], Quantity: 1}}}
	if _, err := fx.s.Create(ctx, tenant, dup); !errors.Is(err, fulfillment.ErrTrackingNumberTaken) {
		t.Errorf("duplicate number: %v", err)
	}
	if _, mos, _ := fx.status(t, "lumen", o2.ID, o2.MerchantOrders["northwind-lighting"]); mos != orders.StatusPaid {
		t.Errorf("refused duplicate moved the merchant order to %s", mos)
	}
	// A fully shipped merchant order has nothing left to ship.
	if _, err := fx.s.Create(ctx, tenant, func() fulfillment.NewShipment { n := valid(); n.TrackingNumber = "TRACK-9"; return n }()); !errors.Is(err, fulfillment.ErrNotShippable) {
		t.Errorf("shipping a fulfilled merchant order: %v", err)
	}
}

// Tenant A cannot read tenant B's shipment, merchant M2 cannot read M1's (404, not 403), and
// tenant staff read every merchant's.
func TestShipmentsAcrossTenantsAndMerchants(t *testing.T) {
	fx := setup(t, 0)
	ctx := fx.as("lumen", "northwind-lighting")
	o := fx.paidOrder(t, "lumen", map[string][]int{"northwind-lighting": {1}})
	sh, err := fx.s.Create(ctx, fx.tenant["lumen"], fulfillment.NewShipment{MerchantOrderID: o.MerchantOrders["northwind-lighting"],
		Carrier: fulfillment.CarrierManual, TrackingNumber: "LUMEN-1", Lines: []fulfillment.ShipmentLine{{OrderLineID: o.Lines["northwind-lighting"][0], Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	_, api := humatest.New(t)
	// Beside the orders routes, as apps/api mounts them: schema names must not collide.
	orders.Routes(api, fx.orders)
	orders.StorefrontRoutes(api, fx.orders)
	fulfillment.Routes(api, fx.s)
	id := sh.ID.String()
	for name, tc := range map[string]struct {
		ctx  context.Context
		want int
	}{
		"owning merchant":      {ctx, http.StatusOK},
		"tenant staff":         {fx.staff("lumen"), http.StatusOK},
		"other merchant":       {fx.as("lumen", "oak-and-ash"), http.StatusNotFound},
		"other tenant's staff": {fx.staff("panda"), http.StatusNotFound},
		"other tenant's shop":  {fx.as("panda", "xiangyun-tea"), http.StatusNotFound},
	} {
		r := api.GetCtx(tc.ctx, "/v1/shipments/"+id)
		if r.Code != tc.want {
			t.Errorf("%s: GET %d %s, want %d", name, r.Code, r.Body, tc.want)
		}
		list := api.GetCtx(tc.ctx, "/v1/shipments")
		if leaked := strings.Contains(list.Body.String(), id); leaked != (tc.want == http.StatusOK) {
			t.Errorf("%s: list shows the shipment: %v (%d)", name, leaked, list.Code)
		}
		ev := api.PostCtx(tc.ctx, "/v1/shipments/"+id+"/events", map[string]any{"status": "in_transit"})
		if name != "owning merchant" && ev.Code < 400 {
			t.Errorf("%s: add event %d", name, ev.Code)
		}
	}
	if r := api.PostCtx(fx.as("panda", "xiangyun-tea"), "/v1/shipments", map[string]any{"merchant_order_id": o.MerchantOrders["northwind-lighting"],
		"carrier": "manual", "tracking_number": "PANDA-1", "lines": []map[string]any{{"order_line_id": o.Lines["northwind-lighting"][0], "quantity": 1}}}); r.Code != http.StatusNotFound {
		t.Errorf("ship another tenant's order: %d %s", r.Code, r.Body)
	}
	if r := api.GetCtx(ctx, "/v1/shipments/carriers"); r.Code != http.StatusOK || !strings.Contains(r.Body.String(), `"generic_http"`) {
		t.Errorf("carriers: %d %s", r.Code, r.Body)
	}
}

// The simulator's journeys by number.
func TestSimulatorScenarios(t *testing.T) {
	sim := carriersim.New(carriersim.Options{})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	c := &fulfillment.GenericHTTP{BaseURL: srv.URL}
	for number, want := range map[string]string{
		"PLAIN-1":  "label_created,in_transit,out_for_delivery,delivered",
		"ABC-FAIL": "label_created,in_transit,out_for_delivery,failed_delivery,out_for_delivery,delivered",
		"ABC-RTS":  "label_created,in_transit,out_for_delivery,failed_delivery,returned",
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/parcels", strings.NewReader(`{"tracking_number":"`+number+`"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("book %s: %v", number, err)
		}
		resp.Body.Close()
		for {
			if _, ok := sim.Advance(number); !ok {
				break
			}
		}
		evs, err := c.Track(context.Background(), number)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Status)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: %v, want %s", number, got, want)
		}
	}
}

// One poll asks about parcels of every tenant, in batches, and not again within the interval.
func TestPollAcrossTenants(t *testing.T) {
	fx := setup(t, 0)
	fx.sim.SetWebhookURL("")
	type parcel struct{ slug, handle, number string }
	var shipped []fulfillment.Shipment
	for _, p := range []parcel{{"lumen", "northwind-lighting", "LUMEN-0001"}, {"panda", "xiangyun-tea", "PANDA-0001"}, {"lumen", "oak-and-ash", "LUMEN-0002"}} {
		o := fx.paidOrder(t, p.slug, map[string][]int{p.handle: {1}})
		fx.book(t, p.number)
		sh, err := fx.s.Create(fx.as(p.slug, p.handle), fx.tenant[p.slug], fulfillment.NewShipment{MerchantOrderID: o.MerchantOrders[p.handle],
			Carrier: fulfillment.CarrierGenericHTTP, TrackingNumber: p.number, Lines: []fulfillment.ShipmentLine{{OrderLineID: o.Lines[p.handle][0], Quantity: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		fx.sim.Advance(p.number)
		shipped = append(shipped, sh)
	}
	st, err := fx.s.Poll(context.Background(), time.Hour, 2, nil)
	if err != nil || st.Shipments != 3 || st.Events != 3 || st.Failed != 0 {
		t.Fatalf("poll in batches of 2: %+v %v, want 3 parcels, 3 new in_transit events", st, err)
	}
	for _, sh := range shipped {
		if n := fx.count(t, `SELECT count(*) FROM tracking_events WHERE shipment_id = ? AND status = 'in_transit'`, sh.ID); n != 1 {
			t.Errorf("shipment %s: %d in_transit events", sh.TrackingNumber, n)
		}
	}
	if st, err := fx.s.Poll(context.Background(), time.Hour, 2, nil); err != nil || st.Shipments != 0 {
		t.Errorf("second poll within the hour: %+v %v, want nothing asked", st, err)
	}
	if n := fx.count(t, `SELECT count(*) FROM audit_entries WHERE action = 'logistics.poll'`); n < 2 {
		t.Errorf("%d audited platform uses by the poll, want at least 2 (one per batch)", n)
	}
}

// The shipped and delivered notices name the order, the shopper and the parcel.
func TestNotices(t *testing.T) {
	fx := setup(t, 0)
	ctx := fx.as("lumen", "northwind-lighting")
	o := fx.paidOrder(t, "lumen", map[string][]int{"northwind-lighting": {1}})
	sh, err := fx.s.Create(ctx, fx.tenant["lumen"], fulfillment.NewShipment{MerchantOrderID: o.MerchantOrders["northwind-lighting"],
		Carrier: fulfillment.CarrierManual, TrackingNumber: "HAND-123", Lines: []fulfillment.ShipmentLine{{OrderLineID: o.Lines["northwind-lighting"][0], Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.AddEvent(ctx, fx.tenant["lumen"], sh.ID, fulfillment.NewEvent{Status: fulfillment.StatusDelivered}); err != nil {
		t.Fatal(err)
	}
	var told []fulfillment.Notice
	kinds := map[string]jobs.Kind{}
	for _, k := range fx.s.Kinds(func(_ context.Context, tenantID uuid.UUID, n fulfillment.Notice) error {
		if tenantID != fx.tenant["lumen"] {
			t.Errorf("told tenant %s", tenantID)
		}
		told = append(told, n)
		return nil
	}, nil) {
		kinds[k.Name] = k
	}
	var rows []struct {
		Kind    string          `bun:"kind"`
		Payload json.RawMessage `bun:"payload"`
	}
	err = fx.f.Platform.Do(context.Background(), "test.read", func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT kind, payload FROM outbox WHERE kind LIKE 'fulfillment.%' ORDER BY id`).Scan(context.Background(), &rows)
	})
	if err != nil || len(rows) != 2 {
		t.Fatalf("outbox: %v, %d rows, want 2", err, len(rows))
	}
	for _, r := range rows {
		var env struct {
			TenantID uuid.UUID       `json:"tenant_id"`
			Data     json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(r.Payload, &env); err != nil {
			t.Fatal(err)
		}
		if err := kinds[r.Kind].Handler(context.Background(), jobs.Payload{Kind: r.Kind, TenantID: env.TenantID, Data: env.Data}); err != nil {
			t.Fatalf("%s: %v", r.Kind, err)
		}
	}
	if len(told) != 2 || told[0].Kind != fulfillment.KindShipped || told[1].Kind != fulfillment.KindDelivered {
		t.Fatalf("told %+v", told)
	}
	for _, n := range told {
		if n.Email != "ava@example.com" || n.ShopperName != "Ava" || n.OrderID != o.ID || n.TrackingNumber != "HAND-123" ||
			n.MerchantName != "northwind-lighting" || n.Carrier != "manual" || !strings.HasPrefix(n.OrderNumber, "T-") {
			t.Errorf("notice %+v", n)
		}
	}
	if _, ok := kinds[fulfillment.KindPoll]; !ok {
		t.Error("no poll kind")
	}
}

// Measured: how fast one poll moves parcels through the carrier API and into the tenants'
// tables (200 parcels on the simulator, batches of 50, 4 of them already up to date).
func TestPollThroughput(t *testing.T) {
	fx := setup(t, 0)
	fx.sim.SetWebhookURL("")
	const n = 200
	o := fx.paidOrder(t, "lumen", map[string][]int{"northwind-lighting": {n}})
	mo, line := o.MerchantOrders["northwind-lighting"], o.Lines["northwind-lighting"][0]
	numbers := make([]string, n)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("BULK-%04d", i)
		fx.book(t, numbers[i])
	}
	ctx := fx.as("lumen", "northwind-lighting")
	for _, num := range numbers {
		if _, err := fx.s.Create(ctx, fx.tenant["lumen"], fulfillment.NewShipment{MerchantOrderID: mo, Carrier: fulfillment.CarrierGenericHTTP,
			TrackingNumber: num, Lines: []fulfillment.ShipmentLine{{OrderLineID: line, Quantity: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, num := range numbers[4:] {
		fx.sim.Advance(num)
	}
	start := time.Now()
	st, err := fx.s.Poll(context.Background(), time.Nanosecond, 50, nil)
	elapsed := time.Since(start)
	if err != nil || st.Shipments != n || st.Events != n-4 || st.Failed != 0 {
		t.Fatalf("poll: %+v %v, want %d parcels and %d new events", st, err, n, n-4)
	}
	if got := fx.count(t, `SELECT count(*) FROM shipments WHERE status = 'in_transit'`); got != n-4 {
		t.Errorf("%d shipments in transit, want %d", got, n-4)
	}
	t.Logf("poll: %d parcels (%d new events) in %v: %.0f parcels/s", st.Shipments, st.Events, elapsed.Round(time.Millisecond),
		float64(st.Shipments)/elapsed.Seconds())
}
