package search

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/money"
)

// cursorKey is where a page ends: the sort value of its last product (score, price; unused
// for newest) and the product id, which breaks ties so no product is skipped or repeated.
type cursorKey struct {
	K  int64     `json:"k"`
	ID uuid.UUID `json:"id"`
}

// tenantContext is what every search needs besides the documents: the default currency, the
// category tree and the filterable attributes, read in one query.
type tenantContext struct {
	currency   string
	categories []categoryRow
	attributes []attributeRow
}

type categoryRow struct {
	ID       uuid.UUID         `json:"id"`
	ParentID *uuid.UUID        `json:"parent_id"`
	Slug     string            `json:"slug"`
	Name     map[string]string `json:"name"`
}

type attributeRow struct {
	Code    string            `json:"code"`
	Type    string            `json:"type"`
	Name    map[string]string `json:"name"`
	Choices []string          `json:"choices"`
}

func readContext(scan scanFunc, tenantID uuid.UUID) (tenantContext, error) {
	var cur string
	var cats, attrs []byte
	err := scan(`SELECT t.default_currency,
		(SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'parent_id', c.parent_id, 'slug', c.slug, 'name', c.name)
		   ORDER BY c.position, c.slug), '[]') FROM categories c WHERE c.tenant_id = t.id),
		(SELECT coalesce(jsonb_agg(jsonb_build_object('code', a.code, 'type', a.type, 'name', a.name, 'choices', a.choices)
		   ORDER BY a.code), '[]') FROM attribute_definitions a WHERE a.tenant_id = t.id AND a.filterable)
		FROM tenants t WHERE t.id = ?`, []any{tenantID}, &cur, &cats, &attrs)
	if err != nil {
		return tenantContext{}, fmt.Errorf("read tenant: %w", err)
	}
	tc := tenantContext{currency: cur}
	if err := json.Unmarshal(cats, &tc.categories); err != nil {
		return tenantContext{}, err
	}
	if err := json.Unmarshal(attrs, &tc.attributes); err != nil {
		return tenantContext{}, err
	}
	return tc, nil
}

// priceBounds are the bucket edges in major units, scaled to the currency's minor unit.
var priceBounds = []int64{10, 25, 50, 100, 250, 500, 1000}

func bucketsFor(currency string) []int64 {
	scale := int64(1)
	for range money.Currency(currency).Exponent() {
		scale *= 10
	}
	out := make([]int64, len(priceBounds))
	for i, b := range priceBounds {
		out[i] = b * scale
	}
	return out
}

// canonicalValue turns a filter value into the text attributes ->> code gives for it, so
// "007" finds the integer 7 and "TRUE" the boolean true; ok is false for a value the type
// cannot hold.
func canonicalValue(a attributeRow, v string) (string, bool) {
	switch a.Type {
	case "integer":
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return strconv.FormatInt(n, 10), err == nil
	case "boolean":
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		return strconv.FormatBool(b), err == nil
	case "enum":
		return v, slices.Contains(a.Choices, v)
	}
	return v, len(v) <= 500
}

// plan is a validated query, ready to become SQL.
type plan struct {
	tenantID  uuid.UUID
	currency  string
	text      string   // the query for trigram matching, lower case
	latin     string   // the non-CJK words, for websearch_to_tsquery
	cjk       []string // CJK lexemes
	category  *categoryRow
	merchants []uuid.UUID
	prices    []PriceRange
	attrs     map[string][]string // canonical values
	attrCodes []string            // every filterable code, sorted
	sort      string
	after     *cursorKey
	size      int
	bounds    []int64
	tc        tenantContext
}

// validate checks q against the tenant; every problem is a field error (422), so a client
// learns all of them at once.
func validate(q Query, tenantID uuid.UUID, tc tenantContext) (plan, error) {
	bad := map[string]string{}
	p := plan{tenantID: tenantID, tc: tc, currency: strings.ToUpper(strings.TrimSpace(q.Currency)), size: q.Size(),
		merchants: q.MerchantIDs, prices: q.Prices, attrs: map[string][]string{}}
	if p.currency == "" {
		p.currency = tc.currency
	}
	if !money.Currency(p.currency).Known() {
		bad["query.currency"] = "an ISO 4217 currency"
	}
	// Control characters (NUL above all, which PostgreSQL refuses in text) and broken UTF-8
	// mean nothing in a search: they become spaces.
	text := strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(q.Q, " ")))
	if utf8.RuneCountInString(text) > 200 {
		bad["query.q"] = "at most 200 characters"
	}
	p.text = strings.ToLower(text)
	p.latin, p.cjk = splitQuery(text)
	switch q.Sort {
	case "":
		p.sort = SortRelevance
	case SortRelevance, SortNewest, SortPriceAsc, SortPriceDesc:
		p.sort = q.Sort
	default:
		bad["query.sort"] = "one of " + strings.Join(Sorts, ", ")
	}
	if p.sort == SortRelevance && p.text == "" {
		p.sort = SortNewest
	}
	if len(q.MerchantIDs) > 50 {
		bad["query.merchant"] = "at most 50 merchants"
	}
	if len(q.Prices) > 20 {
		bad["query.price"] = "at most 20 ranges"
	}
	values := 0
	for _, vs := range q.Attributes {
		values += len(vs)
	}
	if values > 50 {
		bad["query.attr"] = "at most 50 values"
	}
	defs := map[string]attributeRow{}
	for _, a := range tc.attributes {
		defs[a.Code] = a
		p.attrCodes = append(p.attrCodes, a.Code)
	}
	for code, vs := range q.Attributes {
		d, ok := defs[code]
		if !ok {
			bad["query.attr."+code] = "not a filterable attribute"
			continue
		}
		for _, v := range vs {
			cv, ok := canonicalValue(d, v)
			if !ok {
				bad["query.attr."+code] = "not a value of this attribute"
				continue
			}
			p.attrs[code] = append(p.attrs[code], cv)
		}
	}
	if q.CategoryID != uuid.Nil || q.CategorySlug != "" {
		for i, c := range tc.categories {
			if c.ID == q.CategoryID || (q.CategorySlug != "" && c.Slug == q.CategorySlug) {
				p.category = &tc.categories[i]
			}
		}
		if p.category == nil {
			return plan{}, ErrCategoryNotFound
		}
	}
	var key cursorKey
	first, err := httpx.DecodeCursor(q.Cursor, &key)
	if err != nil {
		bad["query.cursor"] = "not a cursor this search gave"
	} else if !first {
		p.after = &key
	}
	if len(bad) > 0 {
		e := fault.Fields(bad)
		e.Kind = fault.Unprocessable
		return plan{}, e
	}
	p.bounds = bucketsFor(p.currency)
	return p, nil
}

// sql builds the one statement that answers a search: a materialised set of the documents
// that match the text and the category, each row carrying whether it passes each of the other
// filters; the page, the total and every facet are read from that set.
func (p plan) sql() (string, []any) {
	var args []any
	// Indexed placeholders (?0, ?1, ...): an expression built once may appear several times.
	arg := func(v any) string { args = append(args, v); return "?" + strconv.Itoa(len(args)-1) }

	cur := arg(p.currency)
	price := "(d.prices -> " + cur + " ->> 'min')::bigint"
	var parts []string
	if p.latin != "" {
		parts = append(parts, "websearch_to_tsquery('english', "+arg(p.latin)+")")
	}
	if len(p.cjk) > 0 {
		lex := make([]string, len(p.cjk))
		for i, l := range p.cjk {
			lex[i] = "'" + l + "'" // CJK characters only: nothing to escape
		}
		parts = append(parts, "to_tsquery('simple', "+arg(strings.Join(lex, " & "))+")")
	}
	tsq := strings.Join(parts, " && ")

	// Words found as words win; only when none is found do near spellings (trigrams of the
	// titles) count, so a typo still finds something and a good query is not diluted by
	// lookalikes. The near-spelling scan runs only when the exact one came back empty.
	score := "0::bigint"
	where := []string{"d.tenant_id = " + arg(p.tenantID), "d.prices -> " + cur + " IS NOT NULL"}
	exactMatch, fuzzyMatch := "", ""
	if p.text != "" {
		text := arg(p.text)
		fuzzyMatch = "d.title_text %> " + text
		rank := "word_similarity(" + text + ", d.title_text)"
		if tsq != "" {
			exactMatch = "d.document @@ (" + tsq + ")"
			rank = "ts_rank_cd(d.document, " + tsq + ", 32) + " + rank
		}
		score = "round((" + rank + ") * 1000000)::bigint"
	}
	if p.category != nil {
		where = append(where, "d.category_path @> ARRAY["+arg(p.category.ID)+"]::uuid[]")
	}

	merchOK := "true"
	if len(p.merchants) > 0 {
		merchOK = "d.merchant_id IN (" + arg(bun.In(p.merchants)) + ")"
	}
	priceOK := "true"
	if len(p.prices) > 0 {
		var ors []string
		for _, r := range p.prices {
			c := "(" + price + " >= " + arg(r.FromMinor)
			if r.ToMinor > 0 {
				c += " AND " + price + " < " + arg(r.ToMinor)
			}
			ors = append(ors, c+")")
		}
		priceOK = "(" + strings.Join(ors, " OR ") + ")"
	}
	attrFail := "'{}'::text[]"
	if len(p.attrs) > 0 {
		codes := make([]string, 0, len(p.attrs))
		for c := range p.attrs {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		var cases []string
		for _, c := range codes {
			cases = append(cases, "CASE WHEN d.attributes ->> "+arg(c)+" = ANY("+arg(pgdialect.Array(p.attrs[c]))+
				") THEN NULL ELSE "+arg(c)+" END")
		}
		attrFail = "array_remove(ARRAY[" + strings.Join(cases, ", ") + "]::text[], NULL)"
	}

	var order, after string
	switch p.sort {
	case SortRelevance:
		order = "score DESC, product_id DESC"
		if p.after != nil {
			after = " AND (score, product_id) < (" + arg(p.after.K) + ", " + arg(p.after.ID) + ")"
		}
	case SortNewest:
		order = "product_id DESC"
		if p.after != nil {
			after = " AND product_id < " + arg(p.after.ID)
		}
	case SortPriceAsc:
		order = "price ASC, product_id ASC"
		if p.after != nil {
			after = " AND (price, product_id) > (" + arg(p.after.K) + ", " + arg(p.after.ID) + ")"
		}
	case SortPriceDesc:
		order = "price DESC, product_id DESC"
		if p.after != nil {
			after = " AND (price, product_id) < (" + arg(p.after.K) + ", " + arg(p.after.ID) + ")"
		}
	}
	bounds := arg(pgdialect.Array(p.bounds)) + "::bigint[]"
	codes := arg(pgdialect.Array(append([]string{}, p.attrCodes...))) + "::text[]"
	limit := arg(p.size + 1)

	columns := `d.product_id, d.slug, d.titles, d.merchant_id, d.merchant_name, d.image_key, d.category_path, d.attributes,
	  ` + price + ` AS price, (d.prices -> ` + cur + ` ->> 'compare_at')::bigint AS compare_at,
	  ` + score + ` AS score, ` + merchOK + ` AS m_ok, ` + priceOK + ` AS p_ok, ` + attrFail + ` AS a_fail
	FROM search_documents d WHERE ` + strings.Join(where, " AND ")
	var found string
	switch {
	case fuzzyMatch == "":
		found = `m AS MATERIALIZED (SELECT ` + columns + `)`
	case exactMatch == "":
		found = `m AS MATERIALIZED (SELECT ` + columns + ` AND ` + fuzzyMatch + `)`
	default:
		found = `exact AS MATERIALIZED (SELECT ` + columns + ` AND ` + exactMatch + `
), m AS MATERIALIZED (
	SELECT * FROM exact
	UNION ALL
	SELECT ` + columns + ` AND ` + fuzzyMatch + ` AND NOT EXISTS (SELECT 1 FROM exact))`
	}
	sql := `WITH ` + found + `, hits AS (
	SELECT * FROM m WHERE m_ok AND p_ok AND a_fail = '{}'` + after + ` ORDER BY ` + order + ` LIMIT ` + limit + `
)
SELECT
	(SELECT count(*) FROM m WHERE m_ok AND p_ok AND a_fail = '{}'),
	(SELECT coalesce(jsonb_agg(jsonb_build_object('product_id', product_id, 'slug', slug, 'title', titles,
	   'merchant_id', merchant_id, 'merchant_name', merchant_name, 'image_key', image_key, 'price_minor', price,
	   'compare_at_minor', compare_at, 'score', score) ORDER BY ` + order + `), '[]') FROM hits),
	(SELECT coalesce(jsonb_object_agg(c, n), '{}') FROM (
	   SELECT c, count(*) AS n FROM m, unnest(m.category_path) c WHERE m_ok AND p_ok AND a_fail = '{}' GROUP BY c) x),
	(SELECT coalesce(jsonb_agg(jsonb_build_object('id', merchant_id, 'name', merchant_name, 'count', n) ORDER BY merchant_name, merchant_id), '[]') FROM (
	   SELECT merchant_id, merchant_name, count(*) AS n FROM m WHERE p_ok AND a_fail = '{}' GROUP BY 1, 2) x),
	(SELECT coalesce(jsonb_object_agg(b, n), '{}') FROM (
	   SELECT width_bucket(price, ` + bounds + `) AS b, count(*) AS n FROM m WHERE m_ok AND a_fail = '{}' GROUP BY 1) x),
	(SELECT coalesce(jsonb_agg(jsonb_build_object('code', k, 'value', v, 'count', n) ORDER BY k, v), '[]') FROM (
	   SELECT a.key AS k, a.value AS v, count(*) AS n FROM m, jsonb_each_text(m.attributes) a
	   WHERE a.key = ANY(` + codes + `) AND m_ok AND p_ok AND (a_fail = '{}' OR a_fail = ARRAY[a.key])
	   GROUP BY 1, 2) x)`
	return sql, args
}

type hitRow struct {
	Hit
	Score int64 `json:"score"`
}

// Search runs q over the tenant's listed products. Errors: ErrCategoryNotFound, invalid
// fields (422: sort, currency, attributes, cursor).
func (s *Service) Search(ctx context.Context, tenantID uuid.UUID, q Query) (Result, error) {
	var res Result
	err := s.read(ctx, tenantID, func(scan scanFunc) error {
		tc, err := readContext(scan, tenantID)
		if err != nil {
			return err
		}
		p, err := validate(q, tenantID, tc)
		if err != nil {
			return err
		}
		sql, args := p.sql()
		var total int
		var hits, cats, merchants, prices, attrs []byte
		if err := scan(sql, args, &total, &hits, &cats, &merchants, &prices, &attrs); err != nil {
			return err
		}
		res, err = p.result(total, hits, cats, merchants, prices, attrs)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("search: %w", err)
	}
	return res, nil
}

func (p plan) result(total int, hitsJSON, catsJSON, merchantsJSON, pricesJSON, attrsJSON []byte) (Result, error) {
	res := Result{Total: total, Currency: p.currency, Items: []Hit{}}
	var rows []hitRow
	if err := json.Unmarshal(hitsJSON, &rows); err != nil {
		return Result{}, err
	}
	for _, r := range rows {
		r.Currency = p.currency
		res.Items = append(res.Items, r.Hit)
	}
	if len(rows) > p.size {
		res.Items = res.Items[:p.size]
		last := rows[p.size-1]
		key := cursorKey{ID: last.ProductID}
		switch p.sort {
		case SortRelevance:
			key.K = last.Score
		case SortPriceAsc, SortPriceDesc:
			key.K = last.PriceMinor
		}
		res.NextCursor = httpx.EncodeCursor(key)
	}

	var catCounts map[uuid.UUID]int
	if err := json.Unmarshal(catsJSON, &catCounts); err != nil {
		return Result{}, err
	}
	res.Facets.Categories = []CategoryCount{}
	for _, c := range p.tc.categories {
		cc := CategoryCount{ID: c.ID, ParentID: c.ParentID, Slug: c.Slug, Name: c.Name, Count: catCounts[c.ID]}
		if p.category != nil && c.ID == p.category.ID {
			res.Category = &cc
		}
		if cc.Count > 0 {
			res.Facets.Categories = append(res.Facets.Categories, cc)
		}
	}
	if p.category != nil && res.Category == nil {
		res.Category = &CategoryCount{ID: p.category.ID, ParentID: p.category.ParentID, Slug: p.category.Slug, Name: p.category.Name}
	}
	res.Facets.Merchants = []MerchantCount{}
	if err := json.Unmarshal(merchantsJSON, &res.Facets.Merchants); err != nil {
		return Result{}, err
	}
	var buckets map[int]int
	if err := json.Unmarshal(pricesJSON, &buckets); err != nil {
		return Result{}, err
	}
	res.Facets.Prices = []PriceBucket{}
	for i := 0; i <= len(p.bounds); i++ {
		if buckets[i] == 0 {
			continue
		}
		r := PriceRange{}
		if i > 0 {
			r.FromMinor = p.bounds[i-1]
		}
		if i < len(p.bounds) {
			r.ToMinor = p.bounds[i]
		}
		res.Facets.Prices = append(res.Facets.Prices, PriceBucket{Range: r.String(), FromMinor: r.FromMinor, ToMinor: r.ToMinor, Count: buckets[i]})
	}
	var avs []struct {
		Code, Value string
		Count       int
	}
	if err := json.Unmarshal(attrsJSON, &avs); err != nil {
		return Result{}, err
	}
	res.Facets.Attributes = []AttributeFacet{}
	for _, a := range p.tc.attributes {
		f := AttributeFacet{Code: a.Code, Name: a.Name, Values: []AttributeValueCount{}}
		for _, av := range avs {
			if av.Code == a.Code {
				f.Values = append(f.Values, AttributeValueCount{Value: av.Value, Count: av.Count})
			}
		}
		if len(f.Values) > 0 {
			res.Facets.Attributes = append(res.Facets.Attributes, f)
		}
	}
	return res, nil
}
