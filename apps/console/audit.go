package console

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/web"
)

// entryView is an audit entry as the log shows it: who by name, what changed as before → after.
type entryView struct {
	Seq          int64
	At           time.Time
	Actor        string // a person's name and e-mail, or the actor as recorded
	Action       string
	ActionLabel  string // the action in words, when the console knows it
	ResourceType string
	ResourceID   string
	ResourceLink string // a console page for the resource, when there is one
	Changes      []change
	RequestID    string
}

type change struct {
	Field, From, To string
}

type auditList struct {
	Entries []entryView
	Next    string
}

func pageSize(n int) httpx.PageParams { return httpx.PageParams{Limit: n} }

// auditPageOf lists the tenant's audit entries with f, under the tenant's RLS, and names the
// people in them.
func (h *handlers) auditPageOf(c *fiber.Ctx, s *session, f audit.Filter) (auditList, error) {
	ctx := c.UserContext()
	var page httpx.Page[audit.Logged]
	err := h.DB.WithTenant(ctx, s.member.TenantID, func(tx bun.IDB) error {
		var err error
		page, err = audit.List(ctx, tx, f)
		return err
	})
	if err != nil {
		return auditList{}, err
	}
	var ids []uuid.UUID
	for _, l := range page.Items {
		if id, ok := userOf(l.Actor); ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	people, err := h.Staff.People(ctx, ids)
	if err != nil {
		return auditList{}, err
	}
	out := auditList{Next: page.NextCursor}
	for _, l := range page.Items {
		v := viewOf(l, people)
		v.ActionLabel = v.Action
		if key := "audit.action." + v.Action; h.r.T(c, key) != key {
			v.ActionLabel = h.r.T(c, key)
		}
		out.Entries = append(out.Entries, v)
	}
	return out, nil
}

func userOf(actor string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(actor, "user:")
	if !ok {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(rest)
	return id, err == nil
}

func viewOf(l audit.Logged, people map[uuid.UUID]identity.StaffUser) entryView {
	v := entryView{Seq: l.Seq, At: l.At, Actor: l.Actor, Action: l.Action, ResourceType: l.ResourceType,
		ResourceID: l.ResourceID, RequestID: l.RequestID}
	if id, ok := userOf(l.Actor); ok {
		if p, ok := people[id]; ok {
			v.Actor = p.Email
			if p.Name != "" {
				v.Actor = p.Name + " <" + p.Email + ">"
			}
		}
	}
	if l.ResourceType == "merchant" {
		if _, err := uuid.Parse(l.ResourceID); err == nil {
			v.ResourceLink = Prefix + "/merchants/" + l.ResourceID
		}
	}
	var diff map[string]struct {
		From json.RawMessage `json:"from"`
		To   json.RawMessage `json:"to"`
	}
	if len(l.Diff) > 0 && json.Unmarshal(l.Diff, &diff) == nil {
		for field, d := range diff {
			c := change{Field: field, From: shortJSON(d.From), To: shortJSON(d.To)}
			if c.From == "" && c.To == "" { // an empty field created empty says nothing
				continue
			}
			v.Changes = append(v.Changes, c)
		}
		slices.SortFunc(v.Changes, func(a, b change) int { return strings.Compare(a.Field, b.Field) })
	}
	return v
}

// shortJSON shows a JSON value compactly: strings without quotes, null as nothing, long values cut.
func shortJSON(raw json.RawMessage) string {
	var s string
	out := strings.TrimSpace(string(raw))
	switch {
	case out == "" || out == "null":
		return ""
	case json.Unmarshal(raw, &s) == nil:
		out = s
	}
	if r := []rune(out); len(r) > 80 {
		out = string(r[:79]) + "…"
	}
	return out
}

type auditData struct {
	Form   web.Form
	Table  web.TableState
	List   auditList
	Report *audit.Report
}

// auditPage shows the tenant's audit log, newest first, filtered by who, what and when.
func (h *handlers) auditPage(c *fiber.Ctx, s *session) error {
	d, err := h.auditData(c, s)
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "audit", d)
}

// verifyAudit recomputes the tenant's hash chain and shows the result above the log.
func (h *handlers) verifyAudit(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	var rep audit.Report
	err := h.DB.WithTenant(ctx, s.member.TenantID, func(tx bun.IDB) error {
		var err error
		rep, err = audit.Verify(ctx, tx, s.member.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	d, err := h.auditData(c, s)
	if err != nil {
		return err
	}
	d.Report = &rep
	return h.r.Render(c, fiber.StatusOK, "audit", d)
}

func (h *handlers) auditData(c *fiber.Ctx, s *session) (auditData, error) {
	table := web.TableFrom(c)
	values := map[string]string{}
	for _, k := range []string{"actor", "action", "resource_type", "resource_id", "from", "to"} {
		values[k] = strings.TrimSpace(c.Query(k))
	}
	f, bad, err := h.auditFilter(c.UserContext(), values)
	if err != nil {
		return auditData{}, err
	}
	f.Cursor = table.Cursor
	list, err := h.auditPageOf(c, s, f)
	if err != nil {
		return auditData{}, err
	}
	form := web.FormFrom(nil, values)
	for k, v := range bad {
		form.Errors[k] = v
	}
	return auditData{Form: form, Table: table, List: list}, nil
}

// auditFilter reads the filter form: an actor may be given by e-mail; dates are whole days
// (UTC), "to" included.
func (h *handlers) auditFilter(ctx context.Context, v map[string]string) (audit.Filter, map[string]string, error) {
	f := audit.Filter{Action: v["action"], ResourceType: v["resource_type"], ResourceID: v["resource_id"]}
	bad := map[string]string{}
	switch actor := v["actor"]; {
	case strings.Contains(actor, "@"):
		id, found, err := h.Staff.UserByEmail(ctx, actor)
		if err != nil {
			return f, nil, err
		}
		f.Actor = "user:" + id.String()
		if !found {
			f.Actor = "user:" + uuid.Nil.String() // nobody: an empty result, not everything
		}
	default:
		f.Actor = actor
	}
	for _, k := range []string{"from", "to"} {
		if v[k] == "" {
			continue
		}
		day, err := time.Parse(time.DateOnly, v[k])
		if err != nil {
			bad[k] = "console.field.date"
			continue
		}
		if k == "from" {
			f.From = day
		} else {
			f.To = day.AddDate(0, 0, 1)
		}
	}
	for _, k := range []string{"actor", "action", "resource_type", "resource_id"} {
		if len(v[k]) > 200 {
			return f, nil, fmt.Errorf("audit filter: %w", errFilterTooLong)
		}
	}
	return f, bad, nil
}

var errFilterTooLong = faultFields("query.actor", "form.too_long")
