package web

import (
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Query parameters a table page reads.
const (
	paramSort   = "sort"
	paramDir    = "dir"
	paramQ      = "q"
	paramCursor = "cursor"
)

// TableState is how a list page is sorted, filtered and paged, read from its query string.
// Only keys from the page's allow-list are accepted as sort keys, so the store can map each
// onto a column without ever putting user input into SQL.
type TableState struct {
	Sort   string // one of the sortable keys
	Desc   bool
	Q      string // free-text filter, trimmed, at most 200 bytes
	Cursor string // opaque, from the previous page's next cursor

	sortable    []string
	defaultSort string
	defaultDesc bool
	query       url.Values // the request's query, so links change one thing and keep the rest
}

// ParseTable reads the table state from a query. sortable lists the keys a person may sort
// by; the first is the default, and a leading "-" ("-created") makes its default descending.
func ParseTable(query url.Values, sortable ...string) TableState {
	t := TableState{query: url.Values{}}
	for i, k := range sortable {
		desc := strings.HasPrefix(k, "-")
		k = strings.TrimPrefix(k, "-")
		t.sortable = append(t.sortable, k)
		if i == 0 {
			t.defaultSort, t.defaultDesc = k, desc
		}
	}
	for k, vs := range query {
		t.query[k] = slices.Clone(vs)
	}
	t.Sort, t.Desc = t.defaultSort, t.defaultDesc
	if s := query.Get(paramSort); slices.Contains(t.sortable, s) {
		t.Sort = s
		t.Desc = query.Get(paramDir) == "desc"
	}
	t.Q = truncate(strings.TrimSpace(query.Get(paramQ)), 200)
	if c := query.Get(paramCursor); len(c) <= 512 {
		t.Cursor = c
	}
	return t
}

// TableFrom reads the table state from the request's query string.
func TableFrom(c *fiber.Ctx, sortable ...string) TableState {
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		q = url.Values{}
	}
	return ParseTable(q, sortable...)
}

// Dir is "asc" or "desc".
func (t TableState) Dir() string {
	if t.Desc {
		return "desc"
	}
	return "asc"
}

// link builds a query-only URL ("?sort=name&dir=asc") from the current query with changes;
// an empty value removes the parameter. Query-only links keep the page's path.
func (t TableState) link(changes map[string]string) string {
	q := url.Values{}
	for k, vs := range t.query {
		q[k] = vs
	}
	for k, v := range changes {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return "?"
	}
	return "?" + q.Encode()
}

// SortURL sorts by key: ascending, or the other way round when it is already the sort key.
// A new order starts from the first page.
func (t TableState) SortURL(key string) string {
	dir := "asc"
	if key == t.Sort && !t.Desc {
		dir = "desc"
	}
	return t.link(map[string]string{paramSort: key, paramDir: dir, paramCursor: ""})
}

// PageURL is the link to the page that starts at cursor, in the same order and filter.
func (t TableState) PageURL(cursor string) string {
	return t.link(map[string]string{paramSort: t.Sort, paramDir: t.Dir(), paramCursor: cursor})
}

// sortHeader renders a column header cell that sorts by key, with aria-sort on the column
// the table is sorted by (and only there, as ARIA asks).
func (fs *funcSet) sortHeader(t TableState, key, label string) (template.HTML, error) {
	if !slices.Contains(t.sortable, key) {
		return "", fmt.Errorf("sortlink %q: not in the table's sortable keys %v", key, t.sortable)
	}
	ariaSort, icon := "", "↕"
	if key == t.Sort {
		ariaSort, icon = ` aria-sort="ascending"`, "▲"
		if t.Desc {
			ariaSort, icon = ` aria-sort="descending"`, "▼"
		}
	}
	return template.HTML(fmt.Sprintf( // escaped
		`<th scope="col"%s><a class="sort" href="%s">%s<span class="sort-icon" aria-hidden="true">%s</span></a></th>`,
		ariaSort, esc(t.SortURL(key)), esc(fs.t(label)), icon)), nil
}

// pager renders the links to the first page (when not on it) and to the next page (when
// there is one): cursor pagination has no page numbers.
func (fs *funcSet) pager(t TableState, next string) template.HTML {
	if t.Cursor == "" && next == "" {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<nav class="pagination" aria-label="%s">`, esc(fs.t("pagination.label")))
	if t.Cursor != "" {
		fmt.Fprintf(&b, `<a class="btn btn-ghost" href="%s">%s</a>`, esc(t.PageURL("")), esc(fs.t("pagination.first")))
	}
	if next != "" {
		fmt.Fprintf(&b, `<a class="btn" rel="next" href="%s">%s</a>`, esc(t.PageURL(next)), esc(fs.t("pagination.next")))
	}
	b.WriteString(`</nav>`)
	return template.HTML(b.String()) // escaped
}

// filterForm renders the search box of a table: a GET form that keeps the sort order and
// any other filters of the query, and offers to clear the search when one is active.
func (fs *funcSet) filterForm(t TableState, label string) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<form class="filter" role="search" method="get"><label for="table-q">%s</label><div class="filter-row">`, esc(fs.t(label)))
	fmt.Fprintf(&b, `<input id="table-q" type="search" name="q" value="%s">`, esc(t.Q))
	keep := map[string]string{paramSort: t.Sort, paramDir: t.Dir()}
	for k := range t.query {
		if k != paramQ && k != paramCursor && k != paramSort && k != paramDir {
			keep[k] = t.query.Get(k)
		}
	}
	names := make([]string, 0, len(keep))
	for k := range keep {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, esc(k), esc(keep[k]))
	}
	fmt.Fprintf(&b, `<button class="btn" type="submit">%s</button>`, esc(fs.t("action.search")))
	if t.Q != "" {
		fmt.Fprintf(&b, `<a class="btn btn-ghost" href="%s">%s</a>`,
			esc(t.link(map[string]string{paramQ: "", paramCursor: ""})), esc(fs.t("action.clear")))
	}
	b.WriteString(`</div></form>`)
	return template.HTML(b.String()) // escaped
}
