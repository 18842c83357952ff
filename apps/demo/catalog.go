package demo

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/blob"
	"mercato/platform/db"
	"mercato/platform/scope"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
	"mercato/tenants/promotions"
)

// CatalogDeps are the services the demo catalog is written through: the same paths a merchant's
// console uses, so listing rules, audit entries and anything that hangs off a product change
// (search documents) see the demo like real data.
type CatalogDeps struct {
	Platform  *db.Platform
	DB        *db.DB
	Catalog   *catalog.Service
	Inventory *inventory.Service
	Blob      *blob.Store
	// Promotions, when set, adds the demo coupon and flash sale (promotions.go).
	Promotions *promotions.Service
}

// Category is a demo category; Parent is another category's slug ("" for a root).
type Category struct{ Slug, Parent, EN, ZH string }

// Product is a demo product. Variants are SKU suffix → option values; every variant costs Price
// (a decimal in the tenant's currency) unless Prices names it. Status is what the demo leaves
// it in: active, pending_review or draft.
type Product struct {
	Merchant, Slug, Category string
	EN, ZH                   [2]string // title, description
	Option                   string    // option code ("" for a single variant)
	Values                   []string
	Price, CompareAt         string
	Prices                   map[string]string // option value → price, when it differs
	WeightGrams              int
	Stock                    int
	Attributes               map[string]any
	Status                   string
	Art                      Art
}

// Catalogs are the demo tenants' categories, attributes and products, by tenant slug.
var Catalogs = map[string]struct {
	Categories []Category
	Attributes []catalog.Attribute
	Products   []Product
}{
	"lumen": {
		Categories: []Category{
			{"lighting", "", "Lighting", "照明"},
			{"desk-lamps", "lighting", "Desk lamps", "台灯"},
			{"pendants", "lighting", "Pendant lights", "吊灯"},
			{"furniture", "", "Furniture", "家具"},
			{"chairs", "furniture", "Chairs", "椅子"},
			{"tables", "furniture", "Tables", "桌子"},
		},
		Attributes: []catalog.Attribute{
			{Code: "material", Type: "enum", Name: map[string]string{"en": "Material", "zh-CN": "材质"}, Choices: []string{"brass", "oak", "ash", "walnut", "linen", "steel"}, Filterable: true},
			{Code: "dimmable", Type: "boolean", Name: map[string]string{"en": "Dimmable", "zh-CN": "可调光"}, Filterable: true},
		},
		Products: []Product{
			{Merchant: "northwind-lighting", Slug: "arc-brass-desk-lamp", Category: "desk-lamps",
				EN:     [2]string{"Arc brass desk lamp", "A solid brass arm that holds its angle, with a warm 2700 K LED and a weighted base."},
				ZH:     [2]string{"弧形黄铜台灯", "实心黄铜灯臂，角度稳定，2700K 暖光 LED，底座加重。"},
				Option: "finish", Values: []string{"brass", "black"}, Price: "89.00", CompareAt: "109.00", WeightGrams: 2100, Stock: 40,
				Attributes: map[string]any{"material": "brass", "dimmable": true}, Status: "active", Art: Art{Hue: 42, Shape: "lamp"}},
			{Merchant: "northwind-lighting", Slug: "linen-drum-pendant", Category: "pendants",
				EN:     [2]string{"Linen drum pendant", "A hand-stitched linen shade that softens the light over a dining table."},
				ZH:     [2]string{"亚麻鼓形吊灯", "手工缝制亚麻灯罩，让餐桌上方的光线更柔和。"},
				Option: "size", Values: []string{"40cm", "60cm"}, Price: "129.00", Prices: map[string]string{"60cm": "169.00"}, WeightGrams: 1600, Stock: 12,
				Attributes: map[string]any{"material": "linen", "dimmable": false}, Status: "active", Art: Art{Hue: 30, Shape: "pendant"}},
			{Merchant: "northwind-lighting", Slug: "clip-on-reading-light", Category: "desk-lamps",
				EN:    [2]string{"Clip-on reading light", "Rechargeable, three brightness steps, clips to a shelf or headboard."},
				ZH:    [2]string{"夹式阅读灯", "可充电，三档亮度，可夹在书架或床头。"},
				Price: "24.50", WeightGrams: 300, Stock: 3, Attributes: map[string]any{"material": "steel", "dimmable": true}, Status: "active", Art: Art{Hue: 200, Shape: "lamp"}},
			{Merchant: "northwind-lighting", Slug: "globe-opal-pendant", Category: "pendants",
				EN:    [2]string{"Opal globe pendant", "Mouth-blown opal glass on a braided fabric cord."},
				ZH:    [2]string{"乳白玻璃球吊灯", "人工吹制乳白玻璃，编织布线。"},
				Price: "149.00", WeightGrams: 2400, Stock: 0, Attributes: map[string]any{"material": "steel", "dimmable": true}, Status: "active", Art: Art{Hue: 210, Shape: "pendant"}},
			{Merchant: "northwind-lighting", Slug: "smart-bulb-four-pack", Category: "lighting",
				EN:    [2]string{"Smart bulb, four pack", "Tunable white E27 bulbs that work without a hub."},
				ZH:    [2]string{"智能灯泡四只装", "E27 可调色温灯泡，无需网关。"},
				Price: "39.99", WeightGrams: 400, Stock: 25, Status: "pending_review", Art: Art{Hue: 55, Shape: "pendant"}},
			{Merchant: "oak-and-ash", Slug: "windsor-oak-chair", Category: "chairs",
				EN:     [2]string{"Windsor oak chair", "Steam-bent oak spindles and a saddle seat carved from one board."},
				ZH:     [2]string{"温莎橡木椅", "蒸汽弯曲橡木椅背，整板雕刻马鞍座面。"},
				Option: "finish", Values: []string{"natural", "smoked"}, Price: "245.00", WeightGrams: 6500, Stock: 8,
				Attributes: map[string]any{"material": "oak"}, Status: "active", Art: Art{Hue: 28, Shape: "chair"}},
			{Merchant: "oak-and-ash", Slug: "ash-side-table", Category: "tables",
				EN:    [2]string{"Ash side table", "A small round table with a turned ash base and an oiled top."},
				ZH:    [2]string{"白蜡木边桌", "旋制白蜡木底座，木蜡油台面的小圆桌。"},
				Price: "159.00", CompareAt: "189.00", WeightGrams: 5200, Stock: 15, Attributes: map[string]any{"material": "ash"}, Status: "active", Art: Art{Hue: 36, Shape: "table"}},
			{Merchant: "oak-and-ash", Slug: "walnut-dining-table", Category: "tables",
				EN:     [2]string{"Walnut dining table", "Seats six; solid walnut with a hand-rubbed oil finish."},
				ZH:     [2]string{"胡桃木餐桌", "可坐六人，实心胡桃木，手工擦油。"},
				Option: "length", Values: []string{"180cm", "220cm"}, Price: "1290.00", Prices: map[string]string{"220cm": "1490.00"}, WeightGrams: 48000, Stock: 4,
				Attributes: map[string]any{"material": "walnut"}, Status: "active", Art: Art{Hue: 20, Shape: "table"}},
			{Merchant: "oak-and-ash", Slug: "folding-stool", Category: "chairs",
				EN:    [2]string{"Folding stool", "Ash frame and a woven seat; folds flat behind a door."},
				ZH:    [2]string{"折叠凳", "白蜡木框架，编织坐面，可折叠收纳。"},
				Price: "69.00", WeightGrams: 2200, Stock: 30, Attributes: map[string]any{"material": "ash"}, Status: "draft", Art: Art{Hue: 90, Shape: "chair"}},
		},
	},
	"panda": {
		Categories: []Category{
			{"tea", "", "Tea", "茶叶"},
			{"green-tea", "tea", "Green tea", "绿茶"},
			{"oolong", "tea", "Oolong", "乌龙茶"},
			{"teaware", "", "Teaware", "茶具"},
			{"jade", "", "Jade", "玉器"},
		},
		Attributes: []catalog.Attribute{
			{Code: "origin", Type: "enum", Name: map[string]string{"en": "Origin", "zh-CN": "产地"}, Choices: []string{"hangzhou", "fujian", "yunnan", "hetian"}, Filterable: true},
		},
		Products: []Product{
			{Merchant: "xiangyun-tea", Slug: "west-lake-longjing", Category: "green-tea",
				EN:     [2]string{"West Lake Longjing green tea", "First-flush Longjing from the hills around Hangzhou's West Lake."},
				ZH:     [2]string{"西湖龙井绿茶", "杭州西湖周边山上的明前龙井。"},
				Option: "weight", Values: []string{"100g", "250g"}, Price: "168.00", Prices: map[string]string{"250g": "388.00"}, WeightGrams: 300, Stock: 60,
				Attributes: map[string]any{"origin": "hangzhou"}, Status: "active", Art: Art{Hue: 100, Shape: "leaf"}},
			{Merchant: "xiangyun-tea", Slug: "tieguanyin-oolong", Category: "oolong",
				EN:    [2]string{"Tieguanyin oolong tea", "Orchid-scented Anxi oolong, rolled by hand."},
				ZH:    [2]string{"铁观音乌龙茶", "安溪兰花香乌龙，手工揉捻。"},
				Price: "128.00", CompareAt: "158.00", WeightGrams: 250, Stock: 45, Attributes: map[string]any{"origin": "fujian"}, Status: "active", Art: Art{Hue: 80, Shape: "leaf"}},
			{Merchant: "xiangyun-tea", Slug: "aged-puer-cake", Category: "tea",
				EN:    [2]string{"Aged Pu'er tea cake", "A 357 g cake pressed in 2012 in Menghai, Yunnan."},
				ZH:    [2]string{"陈年普洱茶饼", "2012 年云南勐海压制，357 克。"},
				Price: "498.00", WeightGrams: 400, Stock: 10, Attributes: map[string]any{"origin": "yunnan"}, Status: "active", Art: Art{Hue: 15, Shape: "disc"}},
			{Merchant: "xiangyun-tea", Slug: "celadon-gaiwan", Category: "teaware",
				EN:    [2]string{"Celadon gaiwan", "A 150 ml lidded bowl in Longquan celadon glaze."},
				ZH:    [2]string{"青瓷盖碗", "龙泉青瓷釉，150 毫升。"},
				Price: "88.00", WeightGrams: 350, Stock: 20, Status: "active", Art: Art{Hue: 160, Shape: "cup"}},
			{Merchant: "jade-studio", Slug: "hetian-jade-pendant", Category: "jade",
				EN:    [2]string{"Hetian jade pendant", "A white nephrite pendant carved with a lotus, on a silk cord."},
				ZH:    [2]string{"和田玉吊坠", "白玉雕莲花吊坠，配丝绳。"},
				Price: "1680.00", WeightGrams: 50, Stock: 5, Attributes: map[string]any{"origin": "hetian"}, Status: "active", Art: Art{Hue: 140, Shape: "disc"}},
			{Merchant: "jade-studio", Slug: "jade-bangle", Category: "jade",
				EN:     [2]string{"Jade bangle", "A smooth green bangle; choose the inner diameter."},
				ZH:     [2]string{"翡翠手镯", "光面绿色手镯，可选内径。"},
				Option: "diameter", Values: []string{"54mm", "56mm", "58mm"}, Price: "2380.00", WeightGrams: 80, Stock: 3,
				Attributes: map[string]any{"origin": "yunnan"}, Status: "active", Art: Art{Hue: 150, Shape: "ring"}},
		},
	},
	"nordic": {
		Categories: []Category{
			{"knitwear", "", "Knitwear", "针织"},
			{"sweaters", "knitwear", "Sweaters", "毛衣"},
			{"hats", "knitwear", "Hats", "帽子"},
			{"yarn", "", "Yarn", "毛线"},
		},
		Attributes: []catalog.Attribute{
			{Code: "fibre", Type: "enum", Name: map[string]string{"en": "Fibre", "zh-CN": "纤维"}, Choices: []string{"merino", "alpaca", "lambswool"}, Filterable: true},
		},
		Products: []Product{
			{Merchant: "nordic-knits", Slug: "fair-isle-sweater", Category: "sweaters",
				EN:     [2]string{"Fair Isle sweater", "Knitted in Shetland lambswool with a yoke of seven colours."},
				ZH:     [2]string{"费尔岛毛衣", "设得兰羊毛编织，七色育克花纹。"},
				Option: "size", Values: []string{"S", "M", "L", "XL"}, Price: "179.00", WeightGrams: 650, Stock: 6,
				Attributes: map[string]any{"fibre": "lambswool"}, Status: "active", Art: Art{Hue: 350, Shape: "sweater"}},
			{Merchant: "nordic-knits", Slug: "merino-beanie", Category: "hats",
				EN:     [2]string{"Merino beanie", "A ribbed beanie in soft merino that does not itch."},
				ZH:     [2]string{"美利奴毛线帽", "柔软不扎的美利奴罗纹帽。"},
				Option: "colour", Values: []string{"sea", "moss", "rust"}, Price: "35.00", WeightGrams: 120, Stock: 50,
				Attributes: map[string]any{"fibre": "merino"}, Status: "active", Art: Art{Hue: 190, Shape: "hat"}},
			{Merchant: "nordic-knits", Slug: "alpaca-yarn-bundle", Category: "yarn",
				EN:    [2]string{"Alpaca yarn bundle", "Five 50 g skeins of undyed baby alpaca."},
				ZH:    [2]string{"羊驼毛线套装", "五团 50 克本色小羊驼毛线。"},
				Price: "42.00", CompareAt: "50.00", WeightGrams: 300, Stock: 18, Attributes: map[string]any{"fibre": "alpaca"}, Status: "active", Art: Art{Hue: 45, Shape: "ball"}},
		},
	},
}

// LoadCatalog writes the demo catalog: per tenant its category tree, attributes, and per
// merchant a stock location, products with generated pictures in MinIO, variants, prices and
// stock. Products that exist (by slug) are left as they are, so loading twice changes nothing.
func LoadCatalog(ctx context.Context, d CatalogDeps) error {
	ctx = scope.WithActor(ctx, "system:seed")
	ids, err := demoIDs(ctx, d.Platform)
	if err != nil {
		return err
	}
	for _, t := range Tenants {
		c, ok := Catalogs[t.Slug]
		if !ok {
			continue
		}
		tid := ids.tenants[t.Slug]
		tctx := scope.WithTenant(ctx, tid)
		cats, err := ensureCategories(tctx, d, tid, c.Categories)
		if err != nil {
			return fmt.Errorf("demo %s: %w", t.Slug, err)
		}
		if err := ensureAttributes(tctx, d, tid, c.Attributes); err != nil {
			return fmt.Errorf("demo %s: %w", t.Slug, err)
		}
		for _, p := range c.Products {
			mid := ids.merchants[t.Slug+"/"+p.Merchant]
			if err := ensureProduct(tctx, d, tid, mid, t.Currency, cats[p.Category], p); err != nil {
				return fmt.Errorf("demo %s product %s: %w", t.Slug, p.Slug, err)
			}
		}
	}
	if d.Promotions != nil {
		return loadPromotions(ctx, d.Promotions, ids.tenants)
	}
	return nil
}

type demoKeys struct {
	tenants   map[string]uuid.UUID // slug → id
	merchants map[string]uuid.UUID // "tenant/handle" → id
}

func demoIDs(ctx context.Context, p *db.Platform) (demoKeys, error) {
	k := demoKeys{tenants: map[string]uuid.UUID{}, merchants: map[string]uuid.UUID{}}
	err := p.Do(ctx, "demo.catalog", func(tx bun.IDB) error {
		var rows []struct {
			Tenant   string    `bun:"tenant"`
			TenantID uuid.UUID `bun:"tenant_id"`
			Handle   string    `bun:"handle"`
			ID       uuid.UUID `bun:"id"`
		}
		if err := tx.NewRaw(`SELECT t.slug AS tenant, t.id AS tenant_id, m.handle, m.id
			FROM tenants t JOIN merchants m ON m.tenant_id = t.id`).Scan(ctx, &rows); err != nil {
			return err
		}
		for _, r := range rows {
			k.tenants[r.Tenant] = r.TenantID
			k.merchants[r.Tenant+"/"+r.Handle] = r.ID
		}
		return nil
	})
	return k, err
}

func ensureCategories(ctx context.Context, d CatalogDeps, tid uuid.UUID, cats []Category) (map[string]uuid.UUID, error) {
	have, err := d.Catalog.ListCategories(ctx, tid)
	if err != nil {
		return nil, err
	}
	bySlug := map[string]uuid.UUID{}
	for _, c := range have {
		bySlug[c.Slug] = c.ID
	}
	for i, c := range cats {
		if _, ok := bySlug[c.Slug]; ok {
			continue
		}
		in := catalog.CategoryInput{Slug: c.Slug, Name: map[string]string{"en": c.EN, "zh-CN": c.ZH}, Position: i}
		if c.Parent != "" {
			parent := bySlug[c.Parent]
			in.ParentID = &parent
		}
		made, err := d.Catalog.CreateCategory(ctx, tid, in)
		if err != nil {
			return nil, fmt.Errorf("category %s: %w", c.Slug, err)
		}
		bySlug[c.Slug] = made.ID
	}
	return bySlug, nil
}

func ensureAttributes(ctx context.Context, d CatalogDeps, tid uuid.UUID, attrs []catalog.Attribute) error {
	for _, a := range attrs {
		if _, err := d.Catalog.DefineAttribute(ctx, tid, a); err != nil && !errors.Is(err, catalog.ErrAttributeTaken) {
			return fmt.Errorf("attribute %s: %w", a.Code, err)
		}
	}
	return nil
}

func ensureProduct(ctx context.Context, d CatalogDeps, tid, mid uuid.UUID, currency string, category uuid.UUID, p Product) error {
	var exists bool
	if err := d.DB.WithTenant(ctx, tid, func(tx bun.IDB) error {
		var err error
		exists, err = tx.NewSelect().Table("products").Where("tenant_id = ? AND slug = ?", tid, p.Slug).Exists(ctx)
		return err
	}); err != nil || exists {
		return err
	}
	// The picture's key is derived from the slug, so a load that died half-way rewrites the
	// same object instead of leaving an orphan.
	key := fmt.Sprintf("t/%s/m/%s/products/%s.png", tid, mid, uuid.NewSHA1(tid, []byte(p.Slug)))
	img, err := p.Art.PNG()
	if err != nil {
		return err
	}
	if err := d.Blob.Put(ctx, key, "image/png", bytes.NewReader(img), int64(len(img))); err != nil {
		return err
	}
	attrs := map[string]json.RawMessage{}
	for code, v := range p.Attributes {
		b, _ := json.Marshal(v) // strings and booleans
		attrs[code] = b
	}
	in := catalog.ProductInput{
		MerchantID: mid, Slug: p.Slug, CategoryID: &category, Attributes: attrs,
		Translations: map[string]catalog.Translation{
			"en":    {Title: p.EN[0], Description: p.EN[1]},
			"zh-CN": {Title: p.ZH[0], Description: p.ZH[1]},
		},
		Images: []catalog.Image{{Key: key, Alt: map[string]string{"en": p.EN[0], "zh-CN": p.ZH[0]}}},
	}
	values := p.Values
	if p.Option != "" {
		in.Options = []catalog.Option{{Code: p.Option, Name: map[string]string{"en": optionName(p.Option)}, Values: p.Values}}
	} else {
		values = []string{""}
	}
	made, err := d.Catalog.CreateProduct(ctx, tid, in)
	if err != nil {
		return err
	}
	loc, err := merchantLocation(ctx, d, tid, mid)
	if err != nil {
		return err
	}
	for i, v := range values {
		vin := catalog.VariantInput{SKU: skuOf(p.Slug, v), WeightGrams: &p.WeightGrams, Position: i}
		if v != "" {
			vin.OptionValues = map[string]string{p.Option: v}
		}
		variant, err := d.Catalog.AddVariant(ctx, tid, made.ID, vin)
		if err != nil {
			return err
		}
		price := p.Price
		if alt, ok := p.Prices[v]; ok {
			price = alt
		}
		if _, err := d.Catalog.SetPrice(ctx, tid, made.ID, variant.ID, catalog.PriceInput{Currency: currency, Amount: price, CompareAt: p.CompareAt}); err != nil {
			return err
		}
		// Stock is spread over the variants, the first getting the remainder; a product
		// with Stock 0 is the demo's sold-out one.
		qty := p.Stock / len(values)
		if i == 0 {
			qty += p.Stock % len(values)
		}
		if qty > 0 {
			if _, _, err := d.Inventory.Adjust(ctx, tid, inventory.NewAdjustment{VariantID: variant.ID, LocationID: loc,
				Delta: qty, Reason: "received", Note: "opening stock"}); err != nil {
				return err
			}
		}
	}
	if p.Status == catalog.StatusDraft {
		return nil
	}
	submitted, err := d.Catalog.Submit(ctx, tid, made.ID)
	if err != nil {
		return err
	}
	if p.Status == catalog.StatusActive && submitted.Status == catalog.StatusPendingReview {
		_, err = d.Catalog.Moderate(ctx, tid, made.ID, "approve", "")
	}
	return err
}

// merchantLocation returns the merchant's default stock location, making its warehouse the
// first time.
func merchantLocation(ctx context.Context, d CatalogDeps, tid, mid uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	err := d.DB.WithTenant(ctx, tid, func(tx bun.IDB) error {
		return tx.NewSelect().Table("stock_locations").Column("id").
			Where("tenant_id = ? AND merchant_id = ? AND is_default", tid, mid).Scan(ctx, &id)
	})
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, err
	}
	loc, err := d.Inventory.CreateLocation(ctx, tid, inventory.NewLocation{MerchantID: mid, Name: "Main warehouse"})
	return loc.ID, err
}

func skuOf(slug, value string) string {
	sku := strings.ToUpper(slug)
	if value != "" {
		sku += "-" + strings.ToUpper(value)
	}
	return sku
}

func optionName(code string) string { return strings.ToUpper(code[:1]) + code[1:] }
