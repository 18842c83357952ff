package catalog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
)

// Category is a node of the tenant's category tree.
type Category struct {
	ID        uuid.UUID         `json:"id"`
	ParentID  *uuid.UUID        `json:"parent_id,omitempty"`
	Slug      string            `json:"slug"`
	Name      map[string]string `json:"name" doc:"per locale; en required"`
	Position  int               `json:"position"`
	CreatedAt time.Time         `json:"created_at"`
}

// CategoryInput creates a category.
type CategoryInput struct {
	ParentID *uuid.UUID        `json:"parent_id,omitempty"`
	Slug     string            `json:"slug"`
	Name     map[string]string `json:"name" doc:"per locale; en required"`
	Position int               `json:"position,omitempty"`
}

// CategoryPatch changes a category; absent fields stay. MoveToRoot detaches it from its parent.
type CategoryPatch struct {
	ParentID   *uuid.UUID        `json:"parent_id,omitempty"`
	MoveToRoot bool              `json:"move_to_root,omitempty"`
	Slug       *string           `json:"slug,omitempty"`
	Name       map[string]string `json:"name,omitempty"`
	Position   *int              `json:"position,omitempty"`
}

func (r categoryRow) category() Category {
	return Category{ID: r.ID, ParentID: r.ParentID, Slug: r.Slug, Name: r.Name, Position: r.Position, CreatedAt: r.CreatedAt}
}

// lockTree serialises changes to one tenant's tree, so two concurrent moves cannot together
// make a cycle that neither would make alone.
func lockTree(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('categories:' || ?::text, 0))", tenantID.String())
	return err
}

// CreateCategory adds a category. Marketplace staff only.
// Errors: ErrTenantOnly, ErrCategoryNotFound (parent), ErrSlugTaken, invalid fields.
func (s *Service) CreateCategory(ctx context.Context, tenantID uuid.UUID, in CategoryInput) (Category, error) {
	if err := tenantStaff(ctx); err != nil {
		return Category{}, err
	}
	bad := map[string]string{}
	in.Slug = strings.ToLower(strings.TrimSpace(in.Slug))
	if !slugRE.MatchString(in.Slug) {
		bad["body.slug"] = "2–100 characters of a-z, 0-9 and -, not starting or ending with -"
	}
	checkNames(bad, "body.name", in.Name, true)
	if len(bad) > 0 {
		return Category{}, fault.Fields(bad)
	}
	var out Category
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if err := lockTree(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := checkCategory(ctx, tx, tenantID, in.ParentID); err != nil {
			return err
		}
		now := s.now().UTC()
		r := categoryRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), ParentID: in.ParentID, Slug: in.Slug, Name: in.Name,
			Position: in.Position, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(&r).Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrSlugTaken
			}
			return err
		}
		out = r.category()
		return s.audit.Record(ctx, tx, "category.create", "category", r.ID.String(), nil, out)
	})
	if err != nil {
		return Category{}, fmt.Errorf("create category: %w", err)
	}
	return out, nil
}

// UpdateCategory renames or moves a category. Moving it below itself or one of its
// descendants is refused. Errors: ErrTenantOnly, ErrCategoryNotFound, ErrCategoryCycle,
// ErrSlugTaken, invalid fields.
func (s *Service) UpdateCategory(ctx context.Context, tenantID, id uuid.UUID, in CategoryPatch) (Category, error) {
	if err := tenantStaff(ctx); err != nil {
		return Category{}, err
	}
	bad := map[string]string{}
	if in.Slug != nil {
		*in.Slug = strings.ToLower(strings.TrimSpace(*in.Slug))
		if !slugRE.MatchString(*in.Slug) {
			bad["body.slug"] = "2–100 characters of a-z, 0-9 and -, not starting or ending with -"
		}
	}
	if in.Name != nil {
		checkNames(bad, "body.name", in.Name, true)
	}
	if in.MoveToRoot && in.ParentID != nil {
		bad["body.parent_id"] = "either parent_id or move_to_root"
	}
	if len(bad) > 0 {
		return Category{}, fault.Fields(bad)
	}
	var out Category
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if err := lockTree(ctx, tx, tenantID); err != nil {
			return err
		}
		var r categoryRow
		if err := tx.NewSelect().Model(&r).Where("tenant_id = ? AND id = ?", tenantID, id).Scan(ctx); err != nil {
			return ErrCategoryNotFound
		}
		before := r.category()
		if in.ParentID != nil {
			if err := checkCategory(ctx, tx, tenantID, in.ParentID); err != nil {
				return err
			}
			// Walk up from the new parent: meeting id on the way means id would sit below itself.
			var cycle bool
			if err := tx.NewRaw(`WITH RECURSIVE up(id, parent_id) AS (
					SELECT id, parent_id FROM categories WHERE tenant_id = ?0 AND id = ?1
					UNION SELECT c.id, c.parent_id FROM categories c JOIN up ON c.tenant_id = ?0 AND c.id = up.parent_id)
				SELECT EXISTS (SELECT 1 FROM up WHERE id = ?2)`, tenantID, *in.ParentID, id).Scan(ctx, &cycle); err != nil {
				return err
			}
			if cycle {
				return ErrCategoryCycle
			}
			r.ParentID = in.ParentID
		}
		if in.MoveToRoot {
			r.ParentID = nil
		}
		if in.Slug != nil {
			r.Slug = *in.Slug
		}
		if in.Name != nil {
			r.Name = in.Name
		}
		if in.Position != nil {
			r.Position = *in.Position
		}
		r.UpdatedAt = s.now().UTC()
		if _, err := tx.NewUpdate().Model(&r).Column("parent_id", "slug", "name", "position", "updated_at").WherePK().Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrSlugTaken
			}
			return err
		}
		out = r.category()
		return s.audit.Record(ctx, tx, "category.update", "category", id.String(), before, out)
	})
	if err != nil {
		return Category{}, fmt.Errorf("update category: %w", err)
	}
	return out, nil
}

// DeleteCategory removes a leaf category; its products keep existing without a category.
// Errors: ErrTenantOnly, ErrCategoryNotFound, ErrCategoryInUse.
func (s *Service) DeleteCategory(ctx context.Context, tenantID, id uuid.UUID) error {
	if err := tenantStaff(ctx); err != nil {
		return err
	}
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if err := lockTree(ctx, tx, tenantID); err != nil {
			return err
		}
		var r categoryRow
		if err := tx.NewSelect().Model(&r).Where("tenant_id = ? AND id = ?", tenantID, id).Scan(ctx); err != nil {
			return ErrCategoryNotFound
		}
		var children int
		if err := tx.NewRaw("SELECT count(*) FROM categories WHERE tenant_id = ? AND parent_id = ?", tenantID, id).Scan(ctx, &children); err != nil {
			return err
		}
		if children > 0 {
			return ErrCategoryInUse
		}
		if _, err := tx.NewDelete().Model(&r).WherePK().Exec(ctx); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, "category.delete", "category", id.String(), r.category(), nil)
	})
	if err != nil {
		return fmt.Errorf("delete category: %w", err)
	}
	return nil
}

// ListCategories returns the whole tree, flat, parents before children's siblings in
// position order; clients build the tree from parent_id.
func (s *Service) ListCategories(ctx context.Context, tenantID uuid.UUID) ([]Category, error) {
	var rows []categoryRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		return tx.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID).OrderExpr("position, slug").Scan(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	out := make([]Category, len(rows))
	for i, r := range rows {
		out[i] = r.category()
	}
	return out, nil
}

// Attribute defines a typed product attribute of the tenant.
type Attribute struct {
	Code       string            `json:"code" pattern:"^[a-z][a-z0-9_]{0,62}$"`
	Type       string            `json:"type" enum:"text,integer,boolean,enum"`
	Name       map[string]string `json:"name" doc:"per locale; en required"`
	Choices    []string          `json:"choices,omitempty" doc:"the allowed values of an enum"`
	Filterable bool              `json:"filterable,omitempty"`
}

func attributeDefs(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (map[string]attributeRow, error) {
	var rows []attributeRow
	if err := tx.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID).Scan(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]attributeRow, len(rows))
	for _, r := range rows {
		out[r.Code] = r
	}
	return out, nil
}

// DefineAttribute adds an attribute definition. Marketplace staff only.
// Errors: ErrTenantOnly, ErrAttributeTaken, invalid fields.
func (s *Service) DefineAttribute(ctx context.Context, tenantID uuid.UUID, a Attribute) (Attribute, error) {
	if err := tenantStaff(ctx); err != nil {
		return Attribute{}, err
	}
	bad := map[string]string{}
	if !codeRE.MatchString(a.Code) {
		bad["body.code"] = "a-z, 0-9 and _, starting with a letter"
	}
	switch a.Type {
	case "enum":
		if len(a.Choices) == 0 {
			bad["body.choices"] = "an enum needs choices"
		}
	case "text", "integer", "boolean":
		if len(a.Choices) > 0 {
			bad["body.choices"] = "only an enum has choices"
		}
	default:
		bad["body.type"] = "text, integer, boolean or enum"
	}
	checkNames(bad, "body.name", a.Name, true)
	if len(bad) > 0 {
		return Attribute{}, fault.Fields(bad)
	}
	if a.Choices == nil {
		a.Choices = []string{}
	}
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		r := attributeRow{TenantID: tenantID, Code: a.Code, Type: a.Type, Name: a.Name, Choices: a.Choices, Filterable: a.Filterable}
		if _, err := tx.NewInsert().Model(&r).Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrAttributeTaken
			}
			return err
		}
		return s.audit.Record(ctx, tx, "attribute.define", "attribute", a.Code, nil, a)
	})
	if err != nil {
		return Attribute{}, fmt.Errorf("define attribute: %w", err)
	}
	return a, nil
}

// ListAttributes returns the tenant's attribute definitions by code.
func (s *Service) ListAttributes(ctx context.Context, tenantID uuid.UUID) ([]Attribute, error) {
	var out []Attribute
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		defs, err := attributeDefs(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		for _, d := range defs {
			out = append(out, Attribute{Code: d.Code, Type: d.Type, Name: d.Name, Choices: d.Choices, Filterable: d.Filterable})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list attributes: %w", err)
	}
	sortAttributes(out)
	return out, nil
}

func sortAttributes(a []Attribute) {
	slices.SortFunc(a, func(x, y Attribute) int { return strings.Compare(x.Code, y.Code) })
}
