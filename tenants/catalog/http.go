package catalog

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/httpx"
)

type productOutput struct{ Body Product }

type variantOutput struct{ Body Variant }

type categoryOutput struct{ Body Category }

// exportOutput is CSV, written as it is.
type exportOutput struct {
	ContentType string `header:"Content-Type"`
	Disposition string `header:"Content-Disposition"`
	Body        []byte
}

type productID struct {
	ID uuid.UUID `path:"id"`
}

type listInput struct {
	Status     string    `query:"status" enum:"draft,pending_review,active,archived" doc:"pending_review is the moderation queue"`
	CategoryID uuid.UUID `query:"category_id"`
	MerchantID uuid.UUID `query:"merchant_id"`
	Attr       []string  `query:"attr" doc:"code:value of a filterable attribute; repeat for more"`
	httpx.PageParams
}

// Routes registers the catalog API under /v1/products (the products family of the policy).
// Static paths (categories, attributes) are registered before /v1/products/{id}.
func Routes(api huma.API, s *Service) {
	const tag = "Catalog"
	tenant := httpx.TenantOf

	httpx.Register(api, huma.Operation{
		OperationID: "list-categories", Method: http.MethodGet, Path: "/v1/products/categories", Tags: []string{tag},
		Summary: "List the category tree", Description: "Flat, ordered by position; build the tree from parent_id.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []Category }, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		cs, err := s.ListCategories(ctx, t)
		return &struct{ Body []Category }{Body: cs}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-category", Method: http.MethodPost, Path: "/v1/products/categories", Tags: []string{tag},
		Summary: "Create a category", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body CategoryInput }) (*categoryOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		c, err := s.CreateCategory(ctx, t, in.Body)
		return &categoryOutput{Body: c}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "update-category", Method: http.MethodPatch, Path: "/v1/products/categories/{id}", Tags: []string{tag},
		Summary: "Rename or move a category", Description: "Moving a category below itself or its descendants is refused (409).",
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		ID   uuid.UUID `path:"id"`
		Body CategoryPatch
	}) (*categoryOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		c, err := s.UpdateCategory(ctx, t, in.ID, in.Body)
		return &categoryOutput{Body: c}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "delete-category", Method: http.MethodDelete, Path: "/v1/products/categories/{id}", Tags: []string{tag},
		Summary: "Delete a leaf category", DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		ID uuid.UUID `path:"id"`
	}) (*struct{}, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		return &struct{}{}, s.DeleteCategory(ctx, t, in.ID)
	})
	httpx.Register(api, huma.Operation{
		OperationID: "list-attributes", Method: http.MethodGet, Path: "/v1/products/attributes", Tags: []string{tag},
		Summary: "List attribute definitions",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []Attribute }, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		as, err := s.ListAttributes(ctx, t)
		if as == nil {
			as = []Attribute{}
		}
		return &struct{ Body []Attribute }{Body: as}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "define-attribute", Method: http.MethodPost, Path: "/v1/products/attributes", Tags: []string{tag},
		Summary: "Define a product attribute", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusForbidden, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body Attribute }) (*struct{ Body Attribute }, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		a, err := s.DefineAttribute(ctx, t, in.Body)
		return &struct{ Body Attribute }{Body: a}, err
	})

	httpx.Register(api, huma.Operation{
		OperationID: "import-products", Method: http.MethodPost, Path: "/v1/products/import", Tags: []string{tag},
		Summary: "Import products from CSV",
		Description: "One row per variant (see the export for the columns). Rows are upserted by product slug and sku; " +
			"rejected rows are listed with their line and reason and the others are imported. Running the same file again changes nothing. " +
			"New products are drafts. Merchant staff import into their own store only. At most 1 MiB and 5000 rows.",
		MaxBodyBytes: 2 * MaxImportBytes, // larger than the import's own cap, so the import says why
		Errors:       []int{http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		RawBody []byte `contentType:"text/csv"`
	}) (*struct{ Body ImportReport }, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		r, err := s.ImportCSV(ctx, t, in.RawBody)
		return &struct{ Body ImportReport }{Body: r}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "export-products", Method: http.MethodGet, Path: "/v1/products/export", Tags: []string{tag},
		Summary:     "Export products as CSV",
		Description: "The import's format: one row per variant, a price column per currency in use, an attr_ column per attribute. Merchant staff get their own store's products.",
		Responses: map[string]*huma.Response{"200": {Description: "CSV, UTF-8, with a header row",
			Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: "string"}}}}},
		Errors: []int{http.StatusForbidden},
	}, func(ctx context.Context, _ *struct{}) (*exportOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := s.ExportCSV(ctx, t, &b); err != nil {
			return nil, err
		}
		return &exportOutput{ContentType: "text/csv; charset=utf-8", Disposition: `attachment; filename="products.csv"`, Body: b.Bytes()}, nil
	})

	httpx.Register(api, huma.Operation{
		OperationID: "list-products", Method: http.MethodGet, Path: "/v1/products", Tags: []string{tag},
		Summary: "List products", Description: "Newest first. Merchant staff see only their merchant's products.",
	}, func(ctx context.Context, in *listInput) (*struct{ Body httpx.Page[Product] }, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		f := ListFilter{Status: in.Status, CategoryID: in.CategoryID, MerchantID: in.MerchantID, PageParams: in.PageParams}
		for _, a := range in.Attr {
			code, v, ok := strings.Cut(a, ":")
			if !ok {
				return nil, fault.Fields(map[string]string{"query.attr": "code:value"})
			}
			if f.Attributes == nil {
				f.Attributes = map[string]string{}
			}
			f.Attributes[code] = v
		}
		p, err := s.ListProducts(ctx, t, f)
		return &struct{ Body httpx.Page[Product] }{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-product", Method: http.MethodPost, Path: "/v1/products", Tags: []string{tag},
		Summary: "Create a draft product", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body ProductInput }) (*productOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.CreateProduct(ctx, t, in.Body)
		return &productOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-product", Method: http.MethodGet, Path: "/v1/products/{id}", Tags: []string{tag},
		Summary: "Get a product", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *productID) (*productOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.GetProduct(ctx, t, in.ID)
		return &productOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "update-product", Method: http.MethodPatch, Path: "/v1/products/{id}", Tags: []string{tag},
		Summary: "Change a product", Description: "Status, merchant and tenant are not writable here; use submit, moderation and archive.",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		ID   uuid.UUID `path:"id"`
		Body ProductPatch
	}) (*productOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.UpdateProduct(ctx, t, in.ID, in.Body)
		return &productOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "add-variant", Method: http.MethodPost, Path: "/v1/products/{id}/variants", Tags: []string{tag},
		Summary: "Add a variant", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		ID   uuid.UUID `path:"id"`
		Body VariantInput
	}) (*variantOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		v, err := s.AddVariant(ctx, t, in.ID, in.Body)
		return &variantOutput{Body: v}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "update-variant", Method: http.MethodPatch, Path: "/v1/products/{id}/variants/{variant}", Tags: []string{tag},
		Summary: "Change a variant", Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		ID      uuid.UUID `path:"id"`
		Variant uuid.UUID `path:"variant"`
		Body    VariantPatch
	}) (*variantOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		v, err := s.UpdateVariant(ctx, t, in.ID, in.Variant, in.Body)
		return &variantOutput{Body: v}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "set-variant-price", Method: http.MethodPut, Path: "/v1/products/{id}/variants/{variant}/prices", Tags: []string{tag},
		Summary:     "Set a variant's price in one currency",
		Description: "amount and compare_at are decimals in major units; more fraction digits than the currency has are refused, never rounded.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		ID      uuid.UUID `path:"id"`
		Variant uuid.UUID `path:"variant"`
		Body    PriceInput
	}) (*variantOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		v, err := s.SetPrice(ctx, t, in.ID, in.Variant, in.Body)
		return &variantOutput{Body: v}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "submit-product", Method: http.MethodPost, Path: "/v1/products/{id}/submit", Tags: []string{tag},
		Summary:     "Submit a draft for listing",
		Description: "The marketplace's listing rules publish it, queue it for moderation, or refuse it (422, reasons in errors).",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *productID) (*productOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.Submit(ctx, t, in.ID)
		return &productOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "moderate-product", Method: http.MethodPost, Path: "/v1/products/{id}/moderation/{action}", Tags: []string{tag},
		Summary: "Approve or reject a product pending review", Description: "Marketplace staff only; a rejection returns it to draft with the note.",
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		ID     uuid.UUID `path:"id"`
		Action string    `path:"action" enum:"approve,reject"`
		Body   struct {
			Note string `json:"note,omitempty" maxLength:"1000" doc:"shown to the merchant"`
		}
	}) (*productOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.Moderate(ctx, t, in.ID, in.Action, in.Body.Note)
		return &productOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "archive-product", Method: http.MethodPost, Path: "/v1/products/{id}/archive", Tags: []string{tag},
		Summary: "Archive a product", Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *productID) (*productOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.Archive(ctx, t, in.ID)
		return &productOutput{Body: p}, err
	})
}
