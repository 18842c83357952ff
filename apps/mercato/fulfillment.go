package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"mercato/apps/storefront"
	"mercato/platform/audit"
	"mercato/platform/config"
	"mercato/platform/mail"
	"mercato/tenants"
	"mercato/tenants/fulfillment"
	"mercato/tenants/fulfillment/carriersim"
	"mercato/tenants/orders"
)

// newFulfillment builds the shipping service: the manual carrier always, and the generic HTTP
// carrier when MERCATO_CARRIER_URL names one (dev points it at the simulator).
func newFulfillment(cfg config.Config, r *runtime, ords *orders.Service) *fulfillment.Service {
	var carriers []fulfillment.Carrier
	if cfg.CarrierURL != "" {
		carriers = append(carriers, &fulfillment.GenericHTTP{BaseURL: cfg.CarrierURL, Secret: cfg.CarrierSecret})
	}
	return fulfillment.NewService(r.db, fulfillment.Config{Audit: audit.Recorder{}, Orders: ords, Carriers: carriers, Platform: r.platform})
}

// tellShopper mails the shopper that a parcel left or arrived, in the order's language and the
// tenant's branding, with a link to the order's tracking page on the store.
func tellShopper(r *runtime, ts *tenants.Service, cfg config.Config) func(context.Context, uuid.UUID, fulfillment.Notice) error {
	branding := tenantBranding(r.db, cfg.PublicURL)
	return func(ctx context.Context, tenantID uuid.UUID, n fulfillment.Notice) error {
		t, err := ts.Get(ctx, tenantID)
		if err != nil {
			return err
		}
		b, err := branding(ctx, tenantID)
		if err != nil {
			return err
		}
		link := storeURL(cfg, t.Slug) + storefront.TrackingPath(n.OrderID)
		name := n.ShopperName
		if name == "" {
			name = n.Email
		}
		event, data := mail.EventOrderShipped, any(mail.OrderShipped{ShopperName: name, OrderNumber: n.OrderNumber,
			MerchantName: n.MerchantName, Carrier: n.Carrier, TrackingNumber: n.TrackingNumber, TrackingURL: link, OrderURL: link})
		if n.Kind == fulfillment.KindDelivered {
			event, data = mail.EventOrderDelivered, mail.OrderDelivered{ShopperName: name, OrderNumber: n.OrderNumber,
				MerchantName: n.MerchantName, OrderURL: link, ReviewURL: link}
		}
		locale := n.Locale
		if locale == "" {
			locale = t.DefaultLocale
		}
		subject, text, html, err := r.mailRenderer.Render(event, locale, b, data)
		if err != nil {
			return err
		}
		return r.mailSender.Send(ctx, mail.Message{To: []string{n.Email}, Subject: subject, Text: text, HTML: html})
	}
}

// storeURL is a tenant's storefront, {slug}.{base host} with the public URL's scheme and port.
func storeURL(cfg config.Config, slug string) string {
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil || pub.Host == "" {
		return strings.TrimSuffix(cfg.PublicURL, "/")
	}
	host := slug + "." + cfg.BaseHost
	if p := pub.Port(); p != "" {
		host += ":" + p
	}
	return pub.Scheme + "://" + host
}

// devCarrierStep is how long each stage of a simulated parcel's journey takes in dev: short
// enough to watch a parcel arrive, long enough to see each stage.
const devCarrierStep = 20 * time.Second

// devCarrier is the simulator dev runs, with the secret it signs webhooks with.
type devCarrier struct {
	*carriersim.Sim
	Secret string
}

// startCarrierSim runs the carrier simulator on a free loopback port, posting its webhooks to
// the API listening at api.
func startCarrierSim(api net.Addr, log *slog.Logger) (devCarrier, error) {
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return devCarrier{}, err
	}
	secret := hex.EncodeToString(buf)
	sim, err := carriersim.Start("127.0.0.1:0", carriersim.Options{Step: devCarrierStep, Secret: secret, Log: log,
		WebhookURL: "http://" + api.String() + strings.Replace(fulfillment.WebhookPath, ":carrier", fulfillment.CarrierGenericHTTP, 1)})
	if err != nil {
		return devCarrier{}, err
	}
	return devCarrier{Sim: sim, Secret: secret}, nil
}
