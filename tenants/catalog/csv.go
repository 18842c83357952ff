package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/money"
	"mercato/platform/scope"
)

// The CSV format: one row per variant, the product's own columns repeated on each of its rows
// (a row with an empty sku describes a product that has no variants yet). Import and export use
// the same columns, so an exported file imports back unchanged.
const (
	ColSlug      = "product_slug"
	ColMerchant  = "merchant" // the merchant's handle
	ColTitleEN   = "title_en"
	ColTitleZH   = "title_zh-CN"
	ColDescEN    = "description_en"
	ColDescZH    = "description_zh-CN"
	ColCategory  = "category_slug"
	ColStatus    = "status"
	ColSKU       = "sku"
	ColOptions   = "options" // "size=M;colour=red"
	ColWeight    = "weight_grams"
	ColLength    = "length_mm"
	ColWidth     = "width_mm"
	ColHeight    = "height_mm"
	PrefixPrice  = "price_"      // price_USD: decimal in major units
	PrefixCompAt = "compare_at_" // compare_at_USD: the struck-through former price
	PrefixAttr   = "attr_"       // attr_material: a value of the tenant's attribute "material"
)

// Import limits: a file a person uploads from a spreadsheet, not a bulk feed.
const (
	MaxImportBytes = 1 << 20
	MaxImportRows  = 5000
)

// Import errors that refuse the whole file.
var (
	ErrImportTooLarge    = fault.New(fault.TooLarge, "import_too_large", fmt.Sprintf("the file is larger than %d bytes (1 MiB); split it into smaller files", MaxImportBytes))
	ErrImportTooManyRows = fault.New(fault.Unprocessable, "import_too_many_rows", fmt.Sprintf("the file has more than %d rows; split it into smaller files", MaxImportRows))
	ErrImportHeader      = fault.New(fault.Unprocessable, "import_header_invalid", "the header row is not one this import can read")
	ErrImportUnreadable  = fault.New(fault.Unprocessable, "import_unreadable", "the file is not UTF-8 CSV with a header row")
	ErrStaffOnly         = fault.New(fault.Forbidden, "staff_only", "only the marketplace's and its merchants' staff may do this")
)

var fixedColumns = []string{ColSlug, ColMerchant, ColTitleEN, ColTitleZH, ColDescEN, ColDescZH, ColCategory, ColStatus,
	ColSKU, ColOptions, ColWeight, ColLength, ColWidth, ColHeight}

// productColumns are the product's own columns: every row of one product must agree on them.
var productColumns = []string{ColMerchant, ColTitleEN, ColTitleZH, ColDescEN, ColDescZH, ColCategory, ColStatus}

// ImportReport says what an import did, row by row: a row is created when its variant (or,
// for a row without a sku, its product) is new, updated when anything it describes changed
// (the product's own columns count on the product's first row), unchanged otherwise.
type ImportReport struct {
	Created   int           `json:"created"`
	Updated   int           `json:"updated"`
	Unchanged int           `json:"unchanged"`
	Errors    []ImportError `json:"errors" doc:"rejected rows; the other rows were imported"`
}

// ImportError is why one row was rejected. Line counts from 1, the header.
type ImportError struct {
	Line    int    `json:"line"`
	Field   string `json:"field" doc:"the column, or \"\" for the row as a whole"`
	Message string `json:"message"`
}

// csvHeader is where each column sits.
type csvHeader struct {
	at         map[string]int
	currencies []string // of price_ columns, in file order
	compareAt  map[string]bool
	attrs      []string // attribute codes, in file order
}

func (h csvHeader) has(col string) bool { _, ok := h.at[col]; return ok }

func (h csvHeader) cell(rec []string, col string) string {
	i, ok := h.at[col]
	if !ok || i >= len(rec) {
		return ""
	}
	return rec[i]
}

// parseHeader checks the header row against the tenant's attributes. Every problem is listed.
func parseHeader(rec []string, defs map[string]attributeRow) (csvHeader, error) {
	h := csvHeader{at: map[string]int{}, compareAt: map[string]bool{}}
	var bad []string
	for i, col := range rec {
		col = strings.TrimSpace(col)
		if _, dup := h.at[col]; dup {
			bad = append(bad, fmt.Sprintf("column %q appears twice", col))
			continue
		}
		h.at[col] = i
		switch {
		case slices.Contains(fixedColumns, col):
		case strings.HasPrefix(col, PrefixPrice):
			cur := strings.TrimPrefix(col, PrefixPrice)
			if c, err := money.ParseCurrency(cur); err != nil || string(c) != cur {
				bad = append(bad, fmt.Sprintf("%q: %q is not a supported currency code", col, cur))
				continue
			}
			h.currencies = append(h.currencies, cur)
		case strings.HasPrefix(col, PrefixCompAt):
			h.compareAt[strings.TrimPrefix(col, PrefixCompAt)] = true
		case strings.HasPrefix(col, PrefixAttr):
			code := strings.TrimPrefix(col, PrefixAttr)
			if _, ok := defs[code]; !ok {
				bad = append(bad, fmt.Sprintf("%q: the marketplace has no attribute %q", col, code))
				continue
			}
			h.attrs = append(h.attrs, code)
		default:
			bad = append(bad, fmt.Sprintf("unknown column %q", col))
		}
	}
	for cur := range h.compareAt {
		if _, ok := h.at[PrefixPrice+cur]; !ok {
			bad = append(bad, fmt.Sprintf("%q needs a %q column", PrefixCompAt+cur, PrefixPrice+cur))
		}
	}
	for _, col := range []string{ColSlug, ColTitleEN, ColSKU} {
		if !h.has(col) {
			bad = append(bad, fmt.Sprintf("missing column %q", col))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		e := *ErrImportHeader
		for _, m := range bad {
			e.Fields = append(e.Fields, fault.FieldError{Location: "header", Message: m})
		}
		return h, fmt.Errorf("%w%w", &e, ErrImportHeader)
	}
	return h, nil
}

// importRow is one data row, checked on its own.
type importRow struct {
	line                             int
	slug, sku                        string
	merchantID                       uuid.UUID
	titleEN, titleZH, descEN, descZH string
	categoryID                       *uuid.UUID
	optionCodes                      []string // in the row's order
	options                          map[string]string
	dims                             [4]*int // weight, length, width, height
	prices                           map[string]*Price
	attrs                            map[string]json.RawMessage // nil value: the cell is empty
	product                          []string                   // the product's own cells, to compare rows
	errors                           []ImportError
}

func (r *importRow) fail(field, msg string) {
	r.errors = append(r.errors, ImportError{Line: r.line, Field: field, Message: msg})
}

// importRefs are the tenant's rows the cells refer to, by the handles a file uses.
type importRefs struct {
	defs       map[string]attributeRow
	categories map[string]uuid.UUID
	merchants  map[string]uuid.UUID
	scoped     uuid.UUID // the caller's merchant, uuid.Nil for marketplace staff
}

var dimColumns = [4]string{ColWeight, ColLength, ColWidth, ColHeight}

// parseRow reads and checks one record: formats, references and the caller's merchant scope.
func parseRow(h csvHeader, rec []string, line int, refs importRefs) *importRow {
	r := &importRow{line: line, options: map[string]string{}, prices: map[string]*Price{}, attrs: map[string]json.RawMessage{}}
	cell := func(col string) string { return strings.TrimSpace(h.cell(rec, col)) }
	for _, col := range productColumns {
		r.product = append(r.product, h.cell(rec, col))
	}
	for _, code := range h.attrs {
		r.product = append(r.product, h.cell(rec, PrefixAttr+code))
	}

	r.slug = cell(ColSlug)
	if !slugRE.MatchString(r.slug) {
		r.fail(ColSlug, "2–100 characters of a-z, 0-9 and -, not starting or ending with -")
	}
	if h.has(ColMerchant) || refs.scoped == uuid.Nil {
		handle := cell(ColMerchant)
		// In a merchant scope only the merchant's own row is visible: any other handle, real
		// or not, is another store.
		switch id, ok := refs.merchants[handle]; {
		case handle == "" && refs.scoped != uuid.Nil:
			r.merchantID = refs.scoped
		case handle == "":
			r.fail(ColMerchant, "required: the handle of the merchant that sells the product")
		case refs.scoped != uuid.Nil && (!ok || id != refs.scoped):
			r.fail(ColMerchant, "you can import only into your own store")
		case !ok:
			r.fail(ColMerchant, "no merchant with this handle")
		default:
			r.merchantID = id
		}
	} else {
		r.merchantID = refs.scoped
	}
	r.titleEN = cell(ColTitleEN)
	if r.titleEN == "" || utf8.RuneCountInString(r.titleEN) > 200 {
		r.fail(ColTitleEN, "1–200 characters")
	}
	r.titleZH = cell(ColTitleZH)
	if utf8.RuneCountInString(r.titleZH) > 200 {
		r.fail(ColTitleZH, "at most 200 characters")
	}
	r.descEN, r.descZH = h.cell(rec, ColDescEN), h.cell(rec, ColDescZH)
	for _, d := range [][2]string{{ColDescEN, r.descEN}, {ColDescZH, r.descZH}} {
		if len(d[1]) > 20000 {
			r.fail(d[0], "at most 20000 characters")
		}
	}
	if r.titleZH == "" && r.descZH != "" {
		r.fail(ColTitleZH, "required when description_zh-CN is given")
	}
	if slug := cell(ColCategory); slug != "" {
		if id, ok := refs.categories[slug]; ok {
			r.categoryID = &id
		} else {
			r.fail(ColCategory, "no category with this slug")
		}
	}
	switch cell(ColStatus) {
	case "", StatusDraft, StatusPendingReview, StatusActive, StatusArchived:
	default:
		r.fail(ColStatus, "one of draft, pending_review, active, archived")
	}

	r.sku = cell(ColSKU)
	if r.sku != "" && !skuRE.MatchString(r.sku) {
		r.fail(ColSKU, "1–64 characters of A-Z, a-z, 0-9, ., _ and -")
	}
	if raw := cell(ColOptions); raw != "" {
		if r.sku == "" {
			r.fail(ColOptions, "a row without a sku describes the product only: leave options empty")
		}
		for _, pair := range strings.Split(raw, ";") {
			code, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
			code, value = strings.TrimSpace(code), strings.TrimSpace(value)
			switch {
			case !ok || value == "":
				r.fail(ColOptions, "code=value pairs separated by ;")
			case !codeRE.MatchString(code):
				r.fail(ColOptions, fmt.Sprintf("option %q: codes are a-z, 0-9 and _, starting with a letter", code))
			case r.options[code] != "":
				r.fail(ColOptions, fmt.Sprintf("option %q is given twice", code))
			case utf8.RuneCountInString(value) > 100:
				r.fail(ColOptions, fmt.Sprintf("option %q: a value of at most 100 characters", code))
			default:
				r.options[code] = value
				r.optionCodes = append(r.optionCodes, code)
				continue
			}
			break
		}
	}
	for i, col := range dimColumns {
		if v := cell(col); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 10_000_000 {
				r.fail(col, "a whole number from 0 to 10000000")
				continue
			}
			r.dims[i] = &n
		}
	}
	if r.sku == "" {
		for _, col := range slices.Concat(dimColumns[:], h.priceColumns()) {
			if cell(col) != "" {
				r.fail(col, "a row without a sku describes the product only: leave variant columns empty")
				break
			}
		}
	}
	for _, cur := range h.currencies {
		amount, cmp := cell(PrefixPrice+cur), cell(PrefixCompAt+cur)
		if amount == "" {
			if cmp != "" {
				r.fail(PrefixCompAt+cur, "needs a price in "+cur)
			}
			r.prices[cur] = nil
			continue
		}
		p, err := ParsePrice(PriceInput{Currency: cur, Amount: amount, CompareAt: cmp})
		if fe := fault.As(err); fe != nil {
			for _, f := range fe.Fields {
				col := PrefixPrice + cur
				if f.Location == "body.compare_at" {
					col = PrefixCompAt + cur
				}
				r.fail(col, strings.Replace(f.Message, "above the amount", "above the price", 1))
			}
			continue
		}
		r.prices[cur] = &p
	}
	for _, code := range h.attrs {
		col := PrefixAttr + code
		v := cell(col)
		if v == "" {
			r.attrs[code] = nil
			continue
		}
		d := refs.defs[code]
		raw := json.RawMessage(v)
		if d.Type == "text" || d.Type == "enum" || !json.Valid(raw) {
			// A cell is text; as a JSON string a malformed number or boolean gets its type's message.
			raw, _ = json.Marshal(v)
		}
		typed, err := typedValue(d, raw)
		if err != nil {
			r.fail(col, err.Error())
			continue
		}
		r.attrs[code] = typed
	}
	return r
}

func (h csvHeader) priceColumns() []string {
	var cols []string
	for _, cur := range h.currencies {
		cols = append(cols, PrefixPrice+cur)
		if h.compareAt[cur] {
			cols = append(cols, PrefixCompAt+cur)
		}
	}
	return cols
}

// ImportCSV creates and updates products and variants from a CSV file, by product slug and
// variant sku: running the same file again changes nothing and writes no audit entry. Each row
// is checked on its own; rejected rows are reported with their line and reason and the rest are
// imported. New products are drafts (status is never changed by an import: submit them);
// products pending review or archived cannot change. Merchant staff import only into their own
// store. Variants and products missing from the file are left alone; a price cell left empty in
// a price column removes that price, an empty attribute cell that attribute.
// Errors (nothing imported): ErrStaffOnly, ErrImportTooLarge, ErrImportTooManyRows,
// ErrImportHeader, ErrImportUnreadable.
func (s *Service) ImportCSV(ctx context.Context, tenantID uuid.UUID, file []byte) (ImportReport, error) {
	if publicOnly(ctx) {
		return ImportReport{}, ErrStaffOnly
	}
	if len(file) > MaxImportBytes {
		return ImportReport{}, ErrImportTooLarge
	}
	if !utf8.Valid(file) {
		return ImportReport{}, ErrImportUnreadable
	}
	file = bytes.TrimPrefix(file, []byte("\uFEFF")) // spreadsheets write a byte-order mark
	cr := csv.NewReader(bytes.NewReader(file))
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return ImportReport{}, ErrImportUnreadable
	}
	type record struct {
		line   int
		fields []string
		err    error
	}
	var records []record
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// A broken quote swallows the rest of the file; say where it started.
			records = append(records, record{line: pe.StartLine, err: err})
			break
		}
		if err != nil {
			return ImportReport{}, ErrImportUnreadable
		}
		if len(records) == MaxImportRows {
			return ImportReport{}, ErrImportTooManyRows
		}
		records = append(records, record{line: line, fields: rec})
	}

	report := ImportReport{Errors: []ImportError{}}
	scoped, _ := scope.MerchantFrom(ctx)
	err = s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		refs := importRefs{scoped: scoped, categories: map[string]uuid.UUID{}, merchants: map[string]uuid.UUID{}}
		var err error
		if refs.defs, err = attributeDefs(ctx, tx, tenantID); err != nil {
			return err
		}
		h, err := parseHeader(head, refs.defs)
		if err != nil {
			return err
		}
		var pairs []struct {
			ID  uuid.UUID `bun:"id"`
			Key string    `bun:"key"`
		}
		if err := tx.NewRaw("SELECT id, slug AS key FROM categories WHERE tenant_id = ?", tenantID).Scan(ctx, &pairs); err != nil {
			return err
		}
		for _, p := range pairs {
			refs.categories[p.Key] = p.ID
		}
		pairs = pairs[:0]
		if err := tx.NewRaw("SELECT id, handle AS key FROM merchants WHERE tenant_id = ?", tenantID).Scan(ctx, &pairs); err != nil {
			return err
		}
		for _, p := range pairs {
			refs.merchants[p.Key] = p.ID
		}

		// Check every row, then group the good ones by product in the file's order.
		var order []string
		groups := map[string][]*importRow{}
		firstSKU := map[string]int{}
		for _, rec := range records {
			if rec.err != nil {
				report.Errors = append(report.Errors, ImportError{Line: rec.line, Field: "", Message: "unreadable CSV: a quote is not closed or a field is malformed"})
				continue
			}
			r := parseRow(h, rec.fields, rec.line, refs)
			if at, dup := firstSKU[r.sku]; dup && r.sku != "" && len(r.errors) == 0 {
				r.fail(ColSKU, fmt.Sprintf("the sku is already on line %d", at))
			}
			if len(r.errors) == 0 {
				if g := groups[r.slug]; len(g) > 0 {
					checkSameProduct(h, g[0], r)
				}
			}
			if len(r.errors) > 0 {
				report.Errors = append(report.Errors, r.errors...)
				continue
			}
			if _, seen := groups[r.slug]; !seen {
				order = append(order, r.slug)
			}
			if r.sku != "" {
				firstSKU[r.sku] = r.line
			}
			groups[r.slug] = append(groups[r.slug], r)
		}
		for _, slug := range order {
			if err := s.importProduct(ctx, tx, tenantID, h, groups[slug], &report); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ImportReport{}, fmt.Errorf("import products: %w", err)
	}
	sort.SliceStable(report.Errors, func(i, j int) bool { return report.Errors[i].Line < report.Errors[j].Line })
	return report, nil
}

// checkSameProduct fails r when its product columns differ from the first row of its product.
func checkSameProduct(h csvHeader, first, r *importRow) {
	cols := slices.Clone(productColumns)
	for _, code := range h.attrs {
		cols = append(cols, PrefixAttr+code)
	}
	for i, col := range cols {
		if first.product[i] != r.product[i] {
			r.fail(col, fmt.Sprintf("differs from line %d of the same product", first.line))
			return
		}
	}
}

// savepoint runs fn so that its failure undoes only its own writes: the import keeps the rows
// before it. A fault from fn is the row's error; anything else ends the import.
func savepoint(ctx context.Context, tx bun.IDB, name string, fn func() error) (rowErr error, err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return nil, err
	}
	ferr := fn()
	if ferr == nil {
		_, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name)
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name); err != nil {
		return nil, errors.Join(ferr, err)
	}
	if fault.As(ferr) == nil {
		return nil, ferr
	}
	return ferr, nil
}

// errSlugElsewhere is a new product's slug taken by a product the caller cannot see.
var errSlugElsewhere = rejectRow(ColSlug, "the slug belongs to another merchant's product")

// errNothingApplied undoes a new product none of whose rows could be written.
var errNothingApplied = fault.New(fault.Unprocessable, "import_nothing_applied", "no row of the product could be imported")

// rowError is a row's rejection while it is being written.
type rowError struct{ field, message string }

func (e rowError) Error() string { return e.message }

func rejectRow(field, message string) error {
	// A fault, so that savepoint treats it as the row's; the field rides along for the report.
	return fmt.Errorf("%w%w", &fault.Error{Kind: fault.Unprocessable, Code: "import_row", Message: message}, rowError{field, message})
}

func rowFailure(line int, err error) ImportError {
	var re rowError
	if errors.As(err, &re) {
		return ImportError{Line: line, Field: re.field, Message: re.message}
	}
	fe := fault.As(err)
	msg := fe.Message
	if len(fe.Fields) > 0 {
		msg = fe.Fields[0].Message
	}
	return ImportError{Line: line, Field: ColSlug, Message: msg}
}

// importProduct writes one product's rows. rows share a slug and agree on the product columns.
func (s *Service) importProduct(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, h csvHeader, rows []*importRow, report *ImportReport) error {
	first := rows[0]
	var before *Product
	var pr productRow
	err := tx.NewSelect().Model(&pr).Where("tenant_id = ? AND slug = ?", tenantID, first.slug).Scan(ctx)
	switch {
	case err == nil:
		p, err := getProduct(ctx, tx, tenantID, pr.ID, true)
		if err != nil {
			return err
		}
		before = &p
		if first.merchantID != p.MerchantID {
			for _, r := range rows {
				report.Errors = append(report.Errors, ImportError{Line: r.line, Field: ColMerchant, Message: "the product belongs to another merchant"})
			}
			return nil
		}
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}

	// The product's options: the existing ones, with the values the rows add, in order.
	var codes []string
	if before != nil && len(before.Options) > 0 {
		for _, o := range before.Options {
			codes = append(codes, o.Code)
		}
	} else {
		for _, r := range rows {
			if r.sku != "" {
				codes = r.optionCodes
				break
			}
		}
	}
	want := slices.Sorted(slices.Values(codes))
	var good []*importRow
	for _, r := range rows {
		if r.sku != "" && !slices.Equal(slices.Sorted(slices.Values(r.optionCodes)), want) {
			msg := "this product has no options: leave options empty"
			if len(want) > 0 {
				msg = "must give a value for each of the product's options: " + strings.Join(want, ", ")
			}
			report.Errors = append(report.Errors, ImportError{Line: r.line, Field: ColOptions, Message: msg})
			continue
		}
		good = append(good, r)
	}
	if len(good) == 0 {
		return nil
	}
	first = good[0]

	results := make([]string, len(good)) // created, updated, unchanged
	changed := false
	rowErr, err := savepoint(ctx, tx, "import_product", func() error {
		now := s.now().UTC()
		if before == nil {
			if err := s.productRoom(ctx, tx, tenantID); err != nil {
				return err
			}
			pr = productRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), MerchantID: first.merchantID, Slug: first.slug,
				Status: StatusDraft, CategoryID: first.categoryID, Attributes: map[string]json.RawMessage{}, CreatedAt: now, UpdatedAt: now}
			for code, v := range first.attrs {
				if v != nil {
					pr.Attributes[code] = v
				}
			}
			if _, err := tx.NewInsert().Model(&pr).Exec(ctx); err != nil {
				if _, dup := db.UniqueViolation(err); dup {
					return errSlugElsewhere
				}
				return err
			}
			changed = true
			results[0] = "created"
		}
		locked := before != nil && (before.Status == StatusPendingReview || before.Status == StatusArchived)
		pchanged, err := s.importProductFields(ctx, tx, h, pr, before, first, locked)
		if err != nil {
			return err
		}
		if pchanged && results[0] == "" {
			results[0] = "updated"
		}
		changed = changed || pchanged

		var existing []variantRow
		if err := tx.NewSelect().Model(&existing).Where("tenant_id = ? AND product_id = ?", tenantID, pr.ID).Scan(ctx); err != nil {
			return err
		}
		bySKU := map[string]variantRow{}
		for _, v := range existing {
			bySKU[v.SKU] = v
		}
		position := len(existing)
		var applied []*importRow
		for i, r := range good {
			if r.sku == "" {
				applied = append(applied, r)
				continue
			}
			var outcome string
			rowErr, err := savepoint(ctx, tx, "import_variant", func() error {
				var err error
				outcome, err = s.importVariant(ctx, tx, tenantID, h, pr, bySKU, &position, r, locked)
				return err
			})
			if err != nil {
				return err
			}
			if rowErr != nil {
				report.Errors = append(report.Errors, rowFailure(r.line, rowErr))
				results[i] = "failed"
				continue
			}
			applied = append(applied, r)
			if results[i] == "" || outcome == "created" {
				results[i] = outcome
			}
			changed = changed || outcome != "unchanged"
		}
		if before == nil && len(applied) == 0 {
			return errNothingApplied // every row of the new product was refused: no empty product
		}
		ochanged, err := importOptions(ctx, tx, pr, before, codes, applied, locked)
		if err != nil {
			return err
		}
		changed = changed || ochanged
		if !changed {
			return nil
		}
		if _, err := tx.NewUpdate().Table("products").Set("updated_at = ?", now).Where("tenant_id = ? AND id = ?", tenantID, pr.ID).Exec(ctx); err != nil {
			return err
		}
		after, err := getProduct(ctx, tx, tenantID, pr.ID, false)
		if err != nil {
			return err
		}
		var b any
		if before != nil {
			b = *before
		}
		return s.audit.Record(ctx, tx, "product.import", "product", pr.ID.String(), b, after)
	})
	if err != nil {
		return err
	}
	if errors.Is(rowErr, errNothingApplied) {
		return nil // the rows' own errors are reported
	}
	if errors.Is(rowErr, errSlugElsewhere) {
		// The slug was free when read and taken at insert: by another merchant (invisible in
		// this scope) or by a concurrent import of the caller's own (visible now).
		var mine int
		if err := tx.NewRaw("SELECT count(*) FROM products WHERE tenant_id = ? AND slug = ?", tenantID, first.slug).Scan(ctx, &mine); err != nil {
			return err
		}
		if mine > 0 {
			rowErr = rejectRow(ColSlug, "the product was created by another import meanwhile; import the file again")
		}
	}
	if rowErr != nil {
		for _, r := range good {
			report.Errors = append(report.Errors, rowFailure(r.line, rowErr))
		}
		return nil
	}
	for _, res := range results {
		switch res {
		case "created":
			report.Created++
		case "updated":
			report.Updated++
		case "failed":
		default:
			report.Unchanged++
		}
	}
	return nil
}

// importProductFields brings the product's own columns (titles, descriptions, category,
// attributes) in line with the row; locked products refuse any change.
func (s *Service) importProductFields(ctx context.Context, tx bun.IDB, h csvHeader, pr productRow, before *Product, r *importRow, locked bool) (bool, error) {
	trs := map[string]Translation{}
	if before != nil {
		trs = before.Translations
	}
	var upsert []translationRow
	var drop []string
	wantEN := Translation{Title: r.titleEN, Description: trs["en"].Description}
	if h.has(ColDescEN) {
		wantEN.Description = r.descEN
	}
	if trs["en"] != wantEN {
		upsert = append(upsert, translationRow{Locale: "en", Title: wantEN.Title, Description: wantEN.Description})
	}
	if h.has(ColTitleZH) {
		cur, has := trs["zh-CN"]
		switch {
		case r.titleZH == "" && has:
			drop = append(drop, "zh-CN")
		case r.titleZH != "":
			want := Translation{Title: r.titleZH, Description: cur.Description}
			if h.has(ColDescZH) {
				want.Description = r.descZH
			}
			if !has || cur != want {
				upsert = append(upsert, translationRow{Locale: "zh-CN", Title: want.Title, Description: want.Description})
			}
		}
	}
	changed := len(upsert) > 0 || len(drop) > 0
	category := pr.CategoryID
	if before != nil && h.has(ColCategory) && !reflect.DeepEqual(before.CategoryID, r.categoryID) {
		category, changed = r.categoryID, true
	}
	attrs := map[string]json.RawMessage{}
	if before != nil {
		for k, v := range before.Attributes {
			attrs[k] = v
		}
		for code, v := range r.attrs {
			old, has := attrs[code]
			switch {
			case v == nil && has:
				delete(attrs, code)
				changed = true
			case v != nil && (!has || !sameJSON(old, v)):
				attrs[code] = v
				changed = true
			}
		}
	}
	if !changed {
		return false, nil
	}
	if locked {
		return false, rejectRow(ColSlug, fmt.Sprintf("the product is %s and cannot change", before.Status))
	}
	for _, t := range upsert {
		t.TenantID, t.ProductID, t.MerchantID = pr.TenantID, pr.ID, pr.MerchantID
		if _, err := tx.NewInsert().Model(&t).On("CONFLICT (tenant_id, product_id, locale) DO UPDATE").
			Set("title = EXCLUDED.title, description = EXCLUDED.description").Exec(ctx); err != nil {
			return false, err
		}
	}
	if len(drop) > 0 {
		if _, err := tx.NewDelete().Model((*translationRow)(nil)).Where("tenant_id = ? AND product_id = ? AND locale IN (?)",
			pr.TenantID, pr.ID, bun.In(drop)).Exec(ctx); err != nil {
			return false, err
		}
	}
	if before != nil {
		raw, err := json.Marshal(attrs)
		if err != nil {
			return false, err
		}
		if _, err := tx.NewUpdate().Table("products").Set("category_id = ?, attributes = ?::jsonb", category, string(raw)).
			Where("tenant_id = ? AND id = ?", pr.TenantID, pr.ID).Exec(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// sameJSON compares two JSON values by meaning: jsonb and encoding/json spell some alike
// values differently ("<" escaped or not).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// importVariant creates or updates the variant of row r, with its prices. position counts the
// product's variants, for new ones.
func (s *Service) importVariant(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, h csvHeader, pr productRow,
	bySKU map[string]variantRow, position *int, r *importRow, locked bool) (string, error) {
	now := s.now().UTC()
	v, exists := bySKU[r.sku]
	if !exists {
		var elsewhere int
		if err := tx.NewRaw("SELECT count(*) FROM variants WHERE tenant_id = ? AND sku = ?", tenantID, r.sku).Scan(ctx, &elsewhere); err != nil {
			return "", err
		}
		if elsewhere > 0 {
			return "", rejectRow(ColSKU, "the sku belongs to another product")
		}
		if locked {
			return "", rejectRow(ColSKU, fmt.Sprintf("the product is %s and cannot change", pr.Status))
		}
		v = variantRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), ProductID: pr.ID, MerchantID: pr.MerchantID, SKU: r.sku,
			OptionValues: r.options, WeightGrams: r.dims[0], LengthMM: r.dims[1], WidthMM: r.dims[2], HeightMM: r.dims[3],
			Status: "active", Position: *position, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(&v).Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return "", rejectRow(ColSKU, "the sku belongs to another merchant's product")
			}
			return "", err
		}
		*position++
		bySKU[r.sku] = v
	}
	outcome := "unchanged"
	if !exists {
		outcome = "created"
	} else {
		ov := v.OptionValues
		if ov == nil {
			ov = map[string]string{}
		}
		dims := [4]**int{&v.WeightGrams, &v.LengthMM, &v.WidthMM, &v.HeightMM}
		same := reflect.DeepEqual(ov, r.options)
		for i, col := range dimColumns {
			if h.has(col) && !reflect.DeepEqual(*dims[i], r.dims[i]) {
				same = false
				*dims[i] = r.dims[i]
			}
		}
		if !same {
			if locked {
				return "", rejectRow(ColSKU, fmt.Sprintf("the product is %s and cannot change", pr.Status))
			}
			v.OptionValues, v.UpdatedAt = r.options, now
			if _, err := tx.NewUpdate().Model(&v).Column("option_values", "weight_grams", "length_mm", "width_mm", "height_mm", "updated_at").
				WherePK().Exec(ctx); err != nil {
				return "", err
			}
			outcome = "updated"
		}
	}
	prices, err := variantPrices(ctx, tx, tenantID, v.ID)
	if err != nil {
		return "", err
	}
	have := map[string]Price{}
	for _, p := range prices {
		have[p.Currency] = p
	}
	for _, cur := range h.currencies {
		want, old := r.prices[cur], have[cur]
		_, had := have[cur]
		switch {
		case want == nil && !had:
			continue
		case want != nil && had && old.AmountMinor == want.AmountMinor && reflect.DeepEqual(old.CompareAtMinor, want.CompareAtMinor):
			continue
		}
		if locked {
			return "", rejectRow(PrefixPrice+cur, fmt.Sprintf("the product is %s and cannot change", pr.Status))
		}
		if want == nil {
			if _, err := tx.NewDelete().Model((*priceRow)(nil)).Where("tenant_id = ? AND variant_id = ? AND currency = ?", tenantID, v.ID, cur).Exec(ctx); err != nil {
				return "", err
			}
		} else {
			row := priceRow{TenantID: tenantID, VariantID: v.ID, MerchantID: v.MerchantID, Currency: cur, AmountMinor: want.AmountMinor, CompareAtMinor: want.CompareAtMinor}
			if _, err := tx.NewInsert().Model(&row).On("CONFLICT (tenant_id, variant_id, currency) DO UPDATE").
				Set("amount_minor = EXCLUDED.amount_minor, compare_at_minor = EXCLUDED.compare_at_minor, updated_at = now()").Exec(ctx); err != nil {
				return "", err
			}
		}
		if outcome == "unchanged" {
			outcome = "updated"
		}
	}
	return outcome, nil
}

// importOptions adds the option values the applied rows use to the product's options (codes in
// order), creating the options of a product that had none. Names of new options are their codes.
func importOptions(ctx context.Context, tx bun.IDB, pr productRow, before *Product, codes []string, rows []*importRow, locked bool) (bool, error) {
	existing := map[string]Option{}
	if before != nil {
		for _, o := range before.Options {
			existing[o.Code] = o
		}
	}
	changed := false
	for i, code := range codes {
		o, has := existing[code]
		if !has {
			o = Option{Code: code, Name: map[string]string{"en": code}, Position: i}
		}
		values := slices.Clone(o.Values)
		for _, r := range rows {
			if v, ok := r.options[code]; ok && !slices.Contains(values, v) {
				values = append(values, v)
			}
		}
		if has && len(values) == len(o.Values) {
			continue
		}
		if len(values) == 0 {
			continue
		}
		if locked {
			return false, nil // the variants that would need the values were refused already
		}
		changed = true
		if has {
			if _, err := tx.NewUpdate().Table("product_options").Set(`"values" = ?`, pgdialect.Array(values)).
				Where("tenant_id = ? AND product_id = ? AND code = ?", pr.TenantID, pr.ID, code).Exec(ctx); err != nil {
				return false, err
			}
			continue
		}
		row := optionRow{TenantID: pr.TenantID, ID: uuid.Must(uuid.NewV7()), ProductID: pr.ID, MerchantID: pr.MerchantID,
			Code: code, Name: o.Name, Values: values, Position: o.Position}
		if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
			return false, err
		}
	}
	return changed, nil
}

// ExportCSV writes the products in scope (a merchant's own in a merchant scope) in the import's
// format: one row per variant, prices for every currency any variant has, every attribute the
// tenant defines. Errors: ErrStaffOnly.
func (s *Service) ExportCSV(ctx context.Context, tenantID uuid.UUID, w io.Writer) error {
	if publicOnly(ctx) {
		return ErrStaffOnly
	}
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		defs, err := attributeDefs(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		codes := slices.Sorted(func(yield func(string) bool) {
			for c := range defs {
				if !yield(c) {
					return
				}
			}
		})
		var currencies []string
		if err := tx.NewRaw("SELECT DISTINCT currency FROM variant_prices WHERE tenant_id = ? ORDER BY 1", tenantID).Scan(ctx, &currencies); err != nil {
			return err
		}
		compareAt := map[string]bool{}
		var withCompare []string
		if err := tx.NewRaw("SELECT DISTINCT currency FROM variant_prices WHERE tenant_id = ? AND compare_at_minor IS NOT NULL", tenantID).
			Scan(ctx, &withCompare); err != nil {
			return err
		}
		for _, c := range withCompare {
			compareAt[c] = true
		}
		cats, handles := map[uuid.UUID]string{}, map[uuid.UUID]string{}
		var pairs []struct {
			ID  uuid.UUID `bun:"id"`
			Key string    `bun:"key"`
		}
		if err := tx.NewRaw("SELECT id, slug AS key FROM categories WHERE tenant_id = ?", tenantID).Scan(ctx, &pairs); err != nil {
			return err
		}
		for _, p := range pairs {
			cats[p.ID] = p.Key
		}
		pairs = pairs[:0]
		if err := tx.NewRaw("SELECT id, handle AS key FROM merchants WHERE tenant_id = ?", tenantID).Scan(ctx, &pairs); err != nil {
			return err
		}
		for _, p := range pairs {
			handles[p.ID] = p.Key
		}

		cw := csv.NewWriter(w)
		head := slices.Clone(fixedColumns)
		for _, c := range currencies {
			head = append(head, PrefixPrice+c)
			if compareAt[c] {
				head = append(head, PrefixCompAt+c)
			}
		}
		for _, c := range codes {
			head = append(head, PrefixAttr+c)
		}
		if err := cw.Write(head); err != nil {
			return err
		}
		after := ""
		for {
			var rows []productRow
			q := tx.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID).OrderExpr("slug").Limit(200)
			if after != "" {
				q = q.Where("slug > ?", after)
			}
			if err := q.Scan(ctx); err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			after = rows[len(rows)-1].Slug
			ps, err := loadProducts(ctx, tx, tenantID, rows)
			if err != nil {
				return err
			}
			for _, p := range ps {
				for _, rec := range exportRecords(p, handles, cats, currencies, compareAt, codes) {
					if err := cw.Write(rec); err != nil {
						return err
					}
				}
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return fmt.Errorf("export products: %w", err)
	}
	return nil
}

// exportRecords are a product's rows: one per variant, or one without a sku when it has none.
func exportRecords(p Product, handles, cats map[uuid.UUID]string, currencies []string, compareAt map[string]bool, codes []string) [][]string {
	own := []string{p.Slug, handles[p.MerchantID], p.Translations["en"].Title, p.Translations["zh-CN"].Title,
		p.Translations["en"].Description, p.Translations["zh-CN"].Description, "", p.Status}
	if p.CategoryID != nil {
		own[6] = cats[*p.CategoryID]
	}
	attrs := make([]string, len(codes))
	for i, c := range codes {
		raw, ok := p.Attributes[c]
		if !ok {
			continue
		}
		var str string
		if json.Unmarshal(raw, &str) == nil {
			attrs[i] = str
		} else {
			attrs[i] = string(raw)
		}
	}
	if len(p.Variants) == 0 {
		rec := append(slices.Clone(own), "", "", "", "", "", "")
		for _, c := range currencies {
			rec = append(rec, "")
			if compareAt[c] {
				rec = append(rec, "")
			}
		}
		return [][]string{append(rec, attrs...)}
	}
	var out [][]string
	for _, v := range p.Variants {
		var opts []string
		for _, o := range p.Options {
			if val, ok := v.OptionValues[o.Code]; ok {
				opts = append(opts, o.Code+"="+val)
			}
		}
		rec := append(slices.Clone(own), v.SKU, strings.Join(opts, ";"), intCell(v.WeightGrams), intCell(v.LengthMM), intCell(v.WidthMM), intCell(v.HeightMM))
		prices := map[string]Price{}
		for _, pr := range v.Prices {
			prices[pr.Currency] = pr
		}
		for _, c := range currencies {
			pr, ok := prices[c]
			cell, cmp := "", ""
			if ok {
				cell = Decimal(pr.AmountMinor, c)
				if pr.CompareAtMinor != nil {
					cmp = Decimal(*pr.CompareAtMinor, c)
				}
			}
			rec = append(rec, cell)
			if compareAt[c] {
				rec = append(rec, cmp)
			}
		}
		out = append(out, append(rec, attrs...))
	}
	return out
}

func intCell(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

// Decimal writes minor units as the decimal ParsePrice reads back ("12.50", "1200").
func Decimal(minor int64, currency string) string {
	s := money.Amount{Minor: minor, Currency: money.Currency(currency)}.String()
	return strings.TrimSuffix(s, " "+currency)
}
