package admin

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/web"
	"mercato/tenants"
)

// platformChain is how the chain select names the platform's own chain (the nil tenant's).
const platformChain = audit.PlatformChain

// chainRef is the chain a page shows: the platform's or one tenant's.
type chainRef struct {
	Value string    // "platform" or the tenant id, as the select posts it
	ID    uuid.UUID // uuid.Nil for the platform
	Name  string    // what the page calls it (a catalogue key for the platform)
}

// chainOptions lists the platform and the tenants (by name, the first 100) for the select,
// and finds the chain the query asks for. A tenant beyond the first 100 is still found by id;
// an unknown one is ErrNotFound.
func (a *portal) chainOptions(c *fiber.Ctx) ([]web.Option, chainRef, error) {
	opts := []web.Option{{Value: platformChain, Label: "admin.audit.platform_chain"}}
	page, err := a.Directory.Browse(c.UserContext(), tenants.BrowseFilter{Sort: tenants.SortName,
		PageParams: httpx.PageParams{Limit: httpx.MaxPageSize}})
	if err != nil {
		return nil, chainRef{}, err
	}
	want := c.Query("chain")
	ref := chainRef{Value: platformChain, Name: "admin.audit.platform_chain"}
	found := want == "" || want == platformChain
	for _, t := range page.Items {
		label := t.Name + " (" + t.Slug + ")"
		opts = append(opts, web.Option{Value: t.ID.String(), Label: label})
		if t.ID.String() == want {
			ref, found = chainRef{Value: want, ID: t.ID, Name: label}, true
		}
	}
	if !found {
		id, err := uuid.Parse(want)
		if err != nil {
			return nil, chainRef{}, tenants.ErrNotFound
		}
		t, err := a.Directory.Get(c.UserContext(), id)
		if err != nil {
			return nil, chainRef{}, err
		}
		ref = chainRef{Value: t.ID.String(), ID: t.ID, Name: t.Name + " (" + t.Slug + ")"}
		opts = append(opts, web.Option{Value: ref.Value, Label: ref.Name})
	}
	return opts, ref, nil
}

type auditData struct {
	Form     web.Form
	Chains   []web.Option
	Chain    chainRef
	Table    web.TableState
	Entries  []entryView
	Next     string
	Filtered bool
	ClearURL string
}

// entryView is one audit entry as the table shows it, with links that filter by its actor,
// action and resource.
type entryView struct {
	Seq                   int64
	At                    time.Time
	Actor, ActorName      string
	ActorURL              string
	Action, ActionURL     string
	Resource, ResourceURL string
	Changes               []change
	RequestID, IP         string
}

// change is one changed field of an entry's diff.
type change struct{ Field, From, To string }

// auditFilters are the query parameters of the filter form, with their length caps.
var auditFilters = []struct {
	name string
	max  int
}{{"actor", 200}, {"action", 100}, {"resource_type", 100}, {"resource_id", 200}}

func (a *portal) auditLog(c *fiber.Ctx, _ identity.Principal) error {
	chains, ref, err := a.chainOptions(c)
	if err != nil {
		return a.fail(c, err)
	}
	table := web.TableFrom(c)
	values := map[string]string{"chain": ref.Value}
	f := audit.Filter{PageParams: httpx.PageParams{Cursor: table.Cursor}}
	for _, k := range auditFilters {
		v := strings.TrimSpace(c.Query(k.name))
		if len(v) > k.max {
			v = v[:k.max]
		}
		values[k.name] = strings.Clone(v)
	}
	f.Actor, f.Action, f.ResourceType, f.ResourceID = values["actor"], values["action"], values["resource_type"], values["resource_id"]
	form := web.FormFrom(nil, values)
	for _, k := range []string{"from", "to"} {
		v := strings.TrimSpace(c.Query(k))
		form.Values[k] = strings.Clone(v)
		if v == "" {
			continue
		}
		day, err := time.Parse(time.DateOnly, v)
		if err != nil {
			form.Errors[k] = "admin.audit.err.date"
			continue
		}
		if k == "from" {
			f.From = day
		} else {
			f.To = day.AddDate(0, 0, 1) // the "to" day is included
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		form.Errors["to"] = "admin.audit.err.range"
	}
	d := auditData{Form: form, Chains: chains, Chain: ref, Table: table,
		ClearURL: Prefix + "/audit?chain=" + url.QueryEscape(ref.Value)}
	for k, v := range form.Values {
		if k != "chain" && v != "" {
			d.Filtered = true
		}
	}
	if form.Invalid() {
		return a.r.Render(c, fiber.StatusUnprocessableEntity, "audit", d)
	}
	var page httpx.Page[audit.Logged]
	err = a.Platform.Do(c.UserContext(), "audit.list", func(tx bun.IDB) error {
		if err := audit.UseTenant(c.UserContext(), tx, ref.ID); err != nil {
			return err
		}
		var err error
		page, err = audit.List(c.UserContext(), tx, f)
		return err
	})
	if err != nil {
		return a.fail(c, err)
	}
	d.Next = page.NextCursor
	names := map[string]string{}
	for _, l := range page.Items {
		d.Entries = append(d.Entries, a.entry(c, ref, l, names))
	}
	return a.r.Render(c, fiber.StatusOK, "audit", d)
}

// entry prepares one entry for the table; names caches staff names across the page.
func (a *portal) entry(c *fiber.Ctx, ref chainRef, l audit.Logged, names map[string]string) entryView {
	link := func(kv ...string) string {
		q := url.Values{"chain": {ref.Value}}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return Prefix + "/audit?" + q.Encode()
	}
	e := entryView{Seq: l.Seq, At: l.At.UTC(), Actor: l.Actor, ActorName: a.actorName(c, l.Actor, names),
		ActorURL: link("actor", l.Actor), Action: l.Action, ActionURL: link("action", l.Action),
		RequestID: l.RequestID, IP: l.IP}
	if l.ResourceType != "" {
		e.Resource = strings.TrimSpace(l.ResourceType + " " + l.ResourceID)
		e.ResourceURL = link("resource_type", l.ResourceType, "resource_id", l.ResourceID)
	}
	var diff map[string]struct {
		From any `json:"from"`
		To   any `json:"to"`
	}
	if len(l.Diff) > 0 && json.Unmarshal(l.Diff, &diff) == nil {
		for field, ch := range diff {
			e.Changes = append(e.Changes, change{Field: field, From: showValue(ch.From), To: showValue(ch.To)})
		}
		sort.Slice(e.Changes, func(i, j int) bool { return e.Changes[i].Field < e.Changes[j].Field })
	}
	return e
}

// actorName puts a person's name to "user:<id>"; other actors (system jobs, API keys) are
// shown as recorded.
func (a *portal) actorName(c *fiber.Ctx, actor string, names map[string]string) string {
	if n, ok := names[actor]; ok {
		return n
	}
	name := actor
	if rest, ok := strings.CutPrefix(actor, "user:"); ok {
		if id, err := uuid.Parse(rest); err == nil {
			if u, err := a.Identity.Staff(c.UserContext(), id); err == nil {
				name = u.Email
				if u.Name != "" {
					name = u.Name + " <" + u.Email + ">"
				}
			}
		}
	}
	names[actor] = name
	return name
}

// showValue writes a diff value for people: strings as they are, nothing as a dash, anything
// else as compact JSON, cut to a readable length.
func showValue(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "—"
	case string:
		s = x
	default:
		b, _ := json.Marshal(x) // decoded from JSON, so it encodes again
		s = string(b)
	}
	return shorten(s, 120)
}

type verifyData struct {
	Chain   chainRef
	Report  audit.Report
	BackURL string
}

// auditVerify walks the chosen chain and shows audit.Verify's report.
func (a *portal) auditVerify(c *fiber.Ctx, _ identity.Principal) error {
	_, ref, err := a.chainOptions(c)
	if err != nil {
		return a.fail(c, err)
	}
	var rep audit.Report
	err = a.Platform.Do(c.UserContext(), "audit.verify", func(tx bun.IDB) error {
		var err error
		rep, err = audit.Verify(c.UserContext(), tx, ref.ID)
		return err
	})
	if err != nil {
		return a.fail(c, err)
	}
	return a.r.Render(c, fiber.StatusOK, "audit_verify", verifyData{Chain: ref, Report: rep,
		BackURL: Prefix + "/audit?chain=" + url.QueryEscape(ref.Value)})
}
