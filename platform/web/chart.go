package web

import (
	"fmt"
	"hash/fnv"
	"html/template"
	"strings"
	"unicode/utf8"

	"mercato/platform/money"
)

// Chart is data to draw as an inline SVG bar or line chart, rendered on the server so it
// needs no script and no library. Values are integers: counts, or minor units of Currency.
type Chart struct {
	Kind     string   // "bar" (default) or "line"
	Title    string   // catalogue key or text: the SVG's <title> and the figure's caption
	XLabel   string   // heading of the label column in the data table; default "chart.label"
	Labels   []string // one per point, shown as they are (format dates before)
	Series   []Series
	Currency string // when set, values are minor units of this currency
}

// Series is one named row of values, as long as Labels. Negative values are drawn as 0.
type Series struct {
	Name   string // catalogue key or text
	Values []int64
}

// Chart geometry. The plot SVG has no viewBox: x positions are percentages of its width and
// y positions are pixels of its fixed height, so it fills any container while its text stays
// at the stylesheet's size (a scaled viewBox shrinks labels to nothing in a narrow column).
const (
	chartH       = 240 // px, plot and axis
	plotTop      = 12  // px above the highest grid line
	plotBottom   = 212 // px, the zero line; x labels sit below it
	xLabelY      = 232
	chartTicks   = 4
	maxXLabels   = 12 // more labels than this are thinned; CSS hides every other on narrow charts
	axisCharPx   = 7  // rough width of one axis-label character at 11px
	axisPadPx    = 12
	barGroupPart = 64 // percent of a label's band taken by its bars
)

// chart renders the figure: caption, a y-axis SVG, the plot SVG (role="img", named by its
// <title>, which also states the highest and lowest point), a legend when there are several
// series, and the numbers in a table inside <details>, for screen readers and anyone who
// wants them exact.
func (fs *funcSet) chart(c Chart) (template.HTML, error) {
	if len(c.Series) == 0 || len(c.Labels) == 0 {
		return template.HTML(fmt.Sprintf(`<p class="chart-empty">%s</p>`, esc(fs.t("chart.empty")))), nil
	}
	for _, s := range c.Series {
		if len(s.Values) != len(c.Labels) {
			return "", fmt.Errorf("chart %q: series %q has %d values for %d labels", c.Title, s.Name, len(s.Values), len(c.Labels))
		}
	}
	if c.Currency != "" && !money.Currency(c.Currency).Known() {
		return "", fmt.Errorf("chart %q: unknown currency %q", c.Title, c.Currency)
	}
	if c.Kind != "" && c.Kind != "bar" && c.Kind != "line" {
		return "", fmt.Errorf("chart %q: kind %q is not bar or line", c.Title, c.Kind)
	}
	id := chartID(c)
	title := fs.t(c.Title)

	var maxV int64
	for _, s := range c.Series {
		for _, v := range s.Values {
			maxV = max(maxV, v)
		}
	}
	step := niceStep(ceilDiv(max(maxV, 1), chartTicks), c.Currency)
	top := step * chartTicks
	// Pixels and percentages are geometry, not money: float is fine here.
	y := func(v int64) float64 {
		return plotBottom - float64(plotBottom-plotTop)*float64(max(v, 0))/float64(top)
	}
	n := len(c.Labels)
	band := 100 / float64(n) // percent of the plot's width per label
	mid := func(i int) float64 { return band * (float64(i) + 0.5) }

	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart" id="%s"><figcaption>%s</figcaption><div class="chart-body">`, id, esc(title))

	ticks := make([]string, chartTicks+1)
	widest := 0
	for i := range ticks {
		ticks[i] = fs.axisValue(step*int64(i), c.Currency)
		widest = max(widest, utf8.RuneCountInString(ticks[i]))
	}
	axisW := widest*axisCharPx + axisPadPx
	fmt.Fprintf(&b, `<svg class="chart-axis" width="%d" height="%d" aria-hidden="true" focusable="false">`, axisW, chartH)
	for i, label := range ticks {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`,
			axisW-axisPadPx+4, y(step*int64(i)), esc(label))
	}
	b.WriteString(`</svg>`)

	fmt.Fprintf(&b, `<svg class="chart-plot" width="100%%" height="%d" role="img" aria-labelledby="%s-title" focusable="false">`, chartH, id)
	fmt.Fprintf(&b, `<title id="%s-title">%s. %s</title>`, id, esc(title), esc(fs.chartSummary(c)))
	for i := 0; i <= chartTicks; i++ {
		yy := y(step * int64(i))
		fmt.Fprintf(&b, `<line class="grid" x1="0" x2="100%%" y1="%.1f" y2="%.1f"/>`, yy, yy)
	}
	every := max(1, ceilInt(n, maxXLabels))
	for i, l := range c.Labels {
		if i%every != 0 {
			continue
		}
		class := "x"
		if (i/every)%2 == 1 {
			class += " minor"
		}
		fmt.Fprintf(&b, `<text class="%s" x="%.2f%%" y="%d" text-anchor="middle">%s</text>`, class, mid(i), xLabelY, esc(l))
	}
	if c.Kind == "line" {
		for si, s := range c.Series {
			for i := 1; i < n; i++ {
				fmt.Fprintf(&b, `<line class="seg s%d" x1="%.2f%%" y1="%.1f" x2="%.2f%%" y2="%.1f"/>`,
					si%4, mid(i-1), y(s.Values[i-1]), mid(i), y(s.Values[i]))
			}
			for i, v := range s.Values {
				fmt.Fprintf(&b, `<circle class="dot s%d" cx="%.2f%%" cy="%.1f" r="4"><title>%s, %s: %s</title></circle>`,
					si%4, mid(i), y(v), esc(fs.t(s.Name)), esc(c.Labels[i]), esc(fs.chartValue(v, c.Currency)))
			}
		}
	} else {
		group := band * barGroupPart / 100
		barW := group / float64(len(c.Series))
		for si, s := range c.Series {
			for i, v := range s.Values {
				x := band*float64(i) + (band-group)/2 + barW*float64(si)
				yy := y(v)
				fmt.Fprintf(&b, `<rect class="bar s%d" x="%.2f%%" y="%.1f" width="%.2f%%" height="%.1f" rx="3"><title>%s, %s: %s</title></rect>`,
					si%4, x+barW*0.06, yy, barW*0.88, plotBottom-yy, esc(fs.t(s.Name)), esc(c.Labels[i]), esc(fs.chartValue(v, c.Currency)))
			}
		}
	}
	b.WriteString(`</svg></div>`)

	if len(c.Series) > 1 {
		b.WriteString(`<ul class="chart-legend">`)
		for si, s := range c.Series {
			fmt.Fprintf(&b, `<li><span class="swatch s%d" aria-hidden="true"></span>%s</li>`, si%4, esc(fs.t(s.Name)))
		}
		b.WriteString(`</ul>`)
	}

	xLabel := c.XLabel
	if xLabel == "" {
		xLabel = "chart.label"
	}
	fmt.Fprintf(&b, `<details class="chart-data"><summary>%s</summary><div class="table-wrap"><table class="data"><caption class="visually-hidden">%s</caption><thead><tr><th scope="col">%s</th>`,
		esc(fs.t("chart.show_data")), esc(title), esc(fs.t(xLabel)))
	for _, s := range c.Series {
		fmt.Fprintf(&b, `<th scope="col" class="num">%s</th>`, esc(fs.t(s.Name)))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for i, l := range c.Labels {
		fmt.Fprintf(&b, `<tr><th scope="row">%s</th>`, esc(l))
		for _, s := range c.Series {
			fmt.Fprintf(&b, `<td class="num" data-label="%s">%s</td>`, esc(fs.t(s.Name)), esc(fs.chartValue(s.Values[i], c.Currency)))
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table></div></details></figure>`)
	return template.HTML(b.String()), nil // every value is escaped
}

func ceilInt(a, b int) int { return (a + b - 1) / b }

// chartSummary states the highest and lowest point of the first series, so the picture's
// text alternative says what a sighted reader takes from it at a glance.
func (fs *funcSet) chartSummary(c Chart) string {
	vals := c.Series[0].Values
	hi, lo := 0, 0
	for i, v := range vals {
		if v > vals[hi] {
			hi = i
		}
		if v < vals[lo] {
			lo = i
		}
	}
	return fs.t("chart.summary", c.Labels[hi], fs.chartValue(vals[hi], c.Currency), c.Labels[lo], fs.chartValue(vals[lo], c.Currency))
}

func (fs *funcSet) chartValue(v int64, currency string) string {
	if currency == "" {
		return FormatNumber(v, fs.locale)
	}
	return money.Format(money.Amount{Minor: v, Currency: money.Currency(currency)}, fs.locale)
}

// axisValue is chartValue without a zero fraction: "$1,500" rather than "$1,500.00".
func (fs *funcSet) axisValue(v int64, currency string) string {
	s := fs.chartValue(v, currency)
	if currency != "" {
		if whole, frac, ok := strings.Cut(s, "."); ok && strings.Trim(frac, "0") == "" {
			return whole
		}
	}
	return s
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten, so axis labels are round numbers;
// for money it is at least one major unit once values reach a few of them.
func niceStep(x int64, currency string) int64 {
	x = max(x, 1)
	if currency != "" {
		if unit := pow10(money.Currency(currency).Exponent()); x > unit/2 {
			x = max(x, unit)
		}
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= x {
				return m * p
			}
		}
		if p > (1<<62)/10 {
			return x
		}
	}
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

// chartID is stable for the same chart, so a page's markup does not change between renders.
func chartID(c Chart) string {
	h := fnv.New32a()
	fmt.Fprint(h, c.Kind, c.Title, c.Labels, c.Series, c.Currency)
	return fmt.Sprintf("chart-%08x", h.Sum32())
}
