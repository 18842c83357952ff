// Package search owns the shopper's read side of the catalog: the search documents the
// database keeps current from the catalog's tables (migration 0012), full-text and typo-tolerant
// search over them with facets, sorts and cursors, and the product page's one-query read.
package search

import (
	"strconv"
	"strings"

	"github.com/google/uuid"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/httpx"
)

// Errors returned by Service.
var (
	ErrProductNotFound  = fault.New(fault.NotFound, "product_not_found", "product not found")
	ErrCategoryNotFound = fault.New(fault.NotFound, "category_not_found", "category not found")
)

// Sorts a search may ask for. Relevance without a query is newest first.
const (
	SortRelevance = "relevance"
	SortNewest    = "newest"
	SortPriceAsc  = "price_asc"
	SortPriceDesc = "price_desc"
)

// Sorts lists the sorts in the order a sort menu shows them.
var Sorts = []string{SortRelevance, SortNewest, SortPriceAsc, SortPriceDesc}

// PriceRange is [FromMinor, ToMinor) in the search's currency; ToMinor 0 means no upper bound.
type PriceRange struct {
	FromMinor, ToMinor int64
}

// String is the range as the query string carries it: "2500-5000", or "50000-" when open.
func (r PriceRange) String() string {
	s := strconv.FormatInt(r.FromMinor, 10) + "-"
	if r.ToMinor > 0 {
		s += strconv.FormatInt(r.ToMinor, 10)
	}
	return s
}

// ParsePriceRange reads "from-to" (minor units, to optional and above from).
func ParsePriceRange(s string) (PriceRange, bool) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return PriceRange{}, false
	}
	f, err := strconv.ParseInt(from, 10, 64)
	if err != nil || f < 0 {
		return PriceRange{}, false
	}
	r := PriceRange{FromMinor: f}
	if to != "" {
		t, err := strconv.ParseInt(to, 10, 64)
		if err != nil || t <= f {
			return PriceRange{}, false
		}
		r.ToMinor = t
	}
	return r, true
}

// Query is one search. Everything is optional: no text lists everything (a category page).
type Query struct {
	Q            string
	CategoryID   uuid.UUID // or CategorySlug; the category and everything below it
	CategorySlug string
	MerchantIDs  []uuid.UUID         // any of them
	Prices       []PriceRange        // any of them
	Attributes   map[string][]string // code → values: any value of a code, every code
	Sort         string              // one of Sorts; "" is relevance
	Currency     string              // "" is the tenant's default currency
	httpx.PageParams
}

// Hit is one product in a result list, with what a product card shows.
type Hit struct {
	ProductID      uuid.UUID         `json:"product_id"`
	Slug           string            `json:"slug"`
	Title          map[string]string `json:"title" doc:"per locale"`
	MerchantID     uuid.UUID         `json:"merchant_id"`
	MerchantName   string            `json:"merchant_name"`
	ImageKey       string            `json:"image_key,omitempty"`
	Currency       string            `json:"currency"`
	PriceMinor     int64             `json:"price_minor" doc:"the cheapest variant's price"`
	CompareAtMinor *int64            `json:"compare_at_minor,omitempty"`
}

// CategoryCount is a category with the number of matching products at or below it.
type CategoryCount struct {
	ID       uuid.UUID         `json:"id"`
	ParentID *uuid.UUID        `json:"parent_id,omitempty"`
	Slug     string            `json:"slug"`
	Name     map[string]string `json:"name"`
	Count    int               `json:"count"`
}

// MerchantCount is a seller with the number of matching products.
type MerchantCount struct {
	ID    uuid.UUID `json:"id"`
	Name  string    `json:"name"`
	Count int       `json:"count"`
}

// PriceBucket is a price range with the number of matching products in it.
type PriceBucket struct {
	Range     string `json:"range" doc:"pass as price to filter by it"`
	FromMinor int64  `json:"from_minor"`
	ToMinor   int64  `json:"to_minor,omitempty" doc:"absent for the open top bucket"`
	Count     int    `json:"count"`
}

// AttributeValueCount is one value of a filterable attribute with its count.
type AttributeValueCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// AttributeFacet is a filterable attribute and the values matching products have.
type AttributeFacet struct {
	Code   string                `json:"code"`
	Name   map[string]string     `json:"name"`
	Values []AttributeValueCount `json:"values"`
}

// Facets count the matching products by each filter. Each facet is counted with every other
// filter applied but not its own, so ticking a merchant still shows the other merchants.
type Facets struct {
	Categories []CategoryCount  `json:"categories"`
	Merchants  []MerchantCount  `json:"merchants"`
	Prices     []PriceBucket    `json:"prices"`
	Attributes []AttributeFacet `json:"attributes"`
}

// Result is one page of a search.
type Result struct {
	Items      []Hit  `json:"items"`
	NextCursor string `json:"next_cursor,omitempty" doc:"pass as cursor to get the next page; absent on the last page"`
	Total      int    `json:"total" doc:"matching products over all pages"`
	Currency   string `json:"currency"`
	Facets     Facets `json:"facets"`
	// Category is the category searched in, nil for all.
	Category *CategoryCount `json:"category,omitempty"`
}

// Service searches a tenant's listed products.
type Service struct {
	db *db.DB
}

// NewService builds the service.
func NewService(d *db.DB) *Service { return &Service{db: d} }

// isCJK says whether r belongs to the scripts the database indexes by character pairs; it
// must match the character class of search_cjk in migration 0012.
func isCJK(r rune) bool {
	switch {
	case r >= 0x3040 && r <= 0x30ff, r >= 0x3400 && r <= 0x4dbf, r >= 0x4e00 && r <= 0x9fff,
		r >= 0xac00 && r <= 0xd7af, r >= 0xf900 && r <= 0xfaff:
		return true
	}
	return false
}

// splitQuery separates the CJK runs of q from the rest. Each run becomes the lexemes the
// documents hold for it: its neighbouring pairs, or the character itself when it stands alone,
// so "蓝牙耳机" must match 蓝牙, 牙耳 and 耳机 in order-insensitive conjunction.
func splitQuery(q string) (rest string, cjk []string) {
	var b strings.Builder
	var run []rune
	flush := func() {
		switch len(run) {
		case 0:
		case 1:
			cjk = append(cjk, string(run))
		default:
			for i := 0; i+1 < len(run); i++ {
				cjk = append(cjk, string(run[i:i+2]))
			}
		}
		run = run[:0]
	}
	for _, r := range q {
		if isCJK(r) {
			run = append(run, r)
			continue
		}
		flush()
		b.WriteRune(r)
	}
	flush()
	return strings.Join(strings.Fields(b.String()), " "), cjk
}
