package orders_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato/platform/db"
	"mercato/platform/db/dbtest"
	"mercato/tenants/cart"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
)

// Flash sale (TESTING.md): 500 concurrent buyers check out one unit each of a flash-sale
// variant with 10 units, through Checkout (cart view, coupon-less pricing, flash claim, stock
// reservation, order), 20 repetitions: exactly 10 orders each time, all at the flash price,
// the sale's sold count 10, and the stock never below 0 (10 reserved of 10 on hand). Between
// repetitions the orders are cancelled, which puts the stock back.
func TestFlashSaleCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 10,000 checkouts")
	}
	const (
		buyers = 500
		units  = 10
		reps   = 20
		conns  = 40
	)
	f := dbtest.New(t)
	pool, err := db.Open(staff(), f.Roles.AppURL, conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	fx := setupOn(t, f, pool)
	lumen := fx.tenant["lumen"]
	v := fx.variant(t, "lumen", "northwind-lighting", "flash-lamp", "USD", "40.00", 500, units)
	var total time.Duration
	var deadlocks atomic.Int64
	for rep := range reps {
		sale, err := fx.promos.CreateFlashSale(staff(), lumen, promotions.FlashSaleInput{VariantID: v, Price: "19.99", Quantity: units,
			EndsAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		shoppers := fx.shoppers(t, "lumen", buyers)
		race(buyers, func(i int) {
			if err := fx.carts.Add(shopperCtx(shoppers[i]), lumen, cart.Owner{ShopperID: shoppers[i]}, v, 1); err != nil {
				t.Errorf("add to cart: %v", err)
			}
		})
		var placed, soldOut, noStock atomic.Int64
		ids := make([]uuid.UUID, buyers)
		t0 := time.Now()
		race(buyers, func(i int) {
			p, err := fx.s.Checkout(shopperCtx(shoppers[i]), lumen, orders.CheckoutInput{Owner: cart.Owner{ShopperID: shoppers[i]},
				Email: "buyer@example.com", Address: address()})
			switch {
			case err == nil:
				placed.Add(1)
				ids[i] = p.Order.ID
			case errors.Is(err, promotions.ErrFlashSoldOut):
				soldOut.Add(1)
			case errors.Is(err, inventory.ErrInsufficientStock):
				noStock.Add(1)
			case errors.Is(err, inventory.ErrDeadlock):
				deadlocks.Add(1)
				t.Errorf("checkout lost to a deadlock three times: %v", err)
			default:
				t.Errorf("checkout: %v", err)
			}
		})
		total += time.Since(t0)
		lv := fx.level(t, "lumen", v)
		got, err := fx.promos.GetFlashSale(staff(), lumen, sale.ID)
		if err != nil {
			t.Fatal(err)
		}
		flashPriced := fx.count(t, "SELECT count(*) FROM order_lines WHERE tenant_id = ? AND flash_sale_id = ? AND unit_price_minor = 1999", lumen, sale.ID)
		if placed.Load() != units || got.Sold != units || flashPriced != units || lv.Available != 0 || lv.Reserved != units || lv.OnHand != units {
			t.Fatalf("repetition %d: %d orders (%d sold out, %d without stock), sale sold %d, %d lines at the flash price, stock %+v; want %d orders",
				rep, placed.Load(), soldOut.Load(), noStock.Load(), got.Sold, flashPriced, lv, units)
		}
		for _, id := range ids {
			if id != uuid.Nil {
				if _, err := fx.s.Cancel(staff(), lumen, id, "test reset"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if lv := fx.level(t, "lumen", v); lv.Available != units {
			t.Fatalf("repetition %d: after cancelling, stock %+v", rep, lv)
		}
		if _, err := fx.promos.DeactivateFlashSale(staff(), lumen, sale.ID); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d repetitions of %d concurrent checkouts for %d flash units: exactly %d orders each time; %v per repetition",
		reps, buyers, units, units, total/reps)
}
