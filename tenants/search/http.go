package search

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/httpx"
)

type searchInput struct {
	Q        string      `query:"q" maxLength:"200" doc:"words to look for; typos and Chinese words are found too"`
	Category string      `query:"category" maxLength:"100" doc:"a category's slug or id: the category and everything below it"`
	Merchant []uuid.UUID `query:"merchant,explode" doc:"a merchant's id; repeat for any of several"`
	Price    []string    `query:"price,explode" doc:"from-to in minor units (to exclusive, may be empty), as the price facet gives; repeat for any of several"`
	Attr     []string    `query:"attr,explode" doc:"code:value of a filterable attribute; repeat for more (values of one code: any; codes: all)"`
	Sort     string      `query:"sort" enum:"relevance,newest,price_asc,price_desc" doc:"relevance (newest without q) by default"`
	httpx.PageParams
}

// Query turns the query string into a Query; the field errors it gives are the API's (422).
func (in searchInput) query() (Query, error) {
	q := Query{Q: in.Q, MerchantIDs: in.Merchant, Sort: in.Sort, PageParams: in.PageParams}
	if id, err := uuid.Parse(in.Category); err == nil {
		q.CategoryID = id
	} else {
		q.CategorySlug = strings.ToLower(in.Category)
	}
	bad := map[string]string{}
	for _, p := range in.Price {
		r, ok := ParsePriceRange(p)
		if !ok {
			bad["query.price"] = "from-to in minor units, to above from or empty"
			continue
		}
		q.Prices = append(q.Prices, r)
	}
	for _, a := range in.Attr {
		code, v, ok := strings.Cut(a, ":")
		if !ok {
			bad["query.attr"] = "code:value"
			continue
		}
		if q.Attributes == nil {
			q.Attributes = map[string][]string{}
		}
		q.Attributes[code] = append(q.Attributes[code], v)
	}
	if len(bad) > 0 {
		e := fault.Fields(bad)
		e.Kind = fault.Unprocessable
		return Query{}, e
	}
	return q, nil
}

// Routes registers the public search API. It belongs to the store the request's host names
// (apps/api resolves it for /v1/storefront), so shoppers, guests and anonymous visitors all
// call it without credentials.
func Routes(api huma.API, s *Service) {
	httpx.Register(api, huma.Operation{
		OperationID: "search-products", Method: http.MethodGet, Path: "/v1/storefront/search", Security: httpx.Public(),
		Tags: []string{"Storefront"}, Summary: "Search the store's products",
		Description: "Full-text search with typo tolerance over the store's listed products, with facets by category " +
			"(counts include subcategories), merchant, price range (in the store's currency) and filterable attributes. " +
			"Each facet is counted with every other filter applied. Cursor-paginated; the cursor belongs to the sort it came from.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *searchInput) (*struct{ Body Result }, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		q, err := in.query()
		if err != nil {
			return nil, err
		}
		res, err := s.Search(ctx, t, q)
		return &struct{ Body Result }{Body: res}, err
	})
}
