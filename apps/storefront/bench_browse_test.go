package storefront_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/db"
	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants/search"
	"mercato/tenants/search/searchtest"
)

// benchTenants are the demo stores the browse benchmark spreads its catalog and its load over.
var benchTenants = []string{"lumen", "panda", "nordic"}

// load is what a closed-loop run of one page measured.
type load struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (l load) perSecond() float64 { return float64(l.requests) / l.elapsed.Seconds() }

// hammer keeps workers busy with requests from next for d, each worker waiting for its answer
// before it sends the next (a closed loop, like browsers), and returns throughput and latency.
func hammer(tb testing.TB, workers int, d time.Duration, next func(r *rand.Rand) *http.Request) load {
	tb.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	return closedLoop(tb, workers, d, func(rng *rand.Rand) error {
		req := next(rng)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: status %d", req.URL, resp.StatusCode)
		}
		return nil
	})
}

// closedLoop runs op from workers goroutines for d and measures each call.
func closedLoop(tb testing.TB, workers int, d time.Duration, op func(r *rand.Rand) error) load {
	tb.Helper()
	var mu sync.Mutex
	var all []time.Duration
	var failed error
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := op(rng); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if failed != nil {
		tb.Fatal(failed)
	}
	elapsed := time.Since(start)
	slices.Sort(all)
	if len(all) == 0 {
		tb.Fatal("no requests completed")
	}
	return load{requests: len(all), elapsed: elapsed, p50: all[len(all)/2], p99: all[min(len(all)-1, len(all)*99/100)]}
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbench runs the four-statement transaction a storefront read costs at least (BEGIN,
// set_config of the tenant, one primary-key read of a search document, COMMIT) against the
// same database as the runtime role, with as many clients as the HTTP run has workers, and
// returns transactions per second and the p99 latency from its per-transaction log.
func pgbench(tb testing.TB, appURL string, tenant, product uuid.UUID, clients int, d time.Duration) load {
	tb.Helper()
	bin, err := osexec.LookPath("pgbench")
	if err != nil {
		tb.Fatalf("pgbench is needed for the comparison (apt-get install postgresql-client): %v", err)
	}
	dir := tb.TempDir()
	script := filepath.Join(dir, "read.sql")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(`BEGIN;
SELECT set_config('app.tenant_id', '%s', true);
SELECT slug, titles, prices FROM search_documents WHERE tenant_id = '%s' AND product_id = '%s';
COMMIT;
`, tenant, tenant, product)), 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := osexec.Command(bin, "-n", "-f", script, "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, 4)),
		"-T", strconv.Itoa(int(d.Seconds())), "-l", "--log-prefix", filepath.Join(dir, "log"), appURL)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		tb.Fatalf("pgbench printed no tps:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	logs, _ := filepath.Glob(filepath.Join(dir, "log.*"))
	var lat []time.Duration
	for _, name := range logs {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// client_id transaction_no time(µs) script_no time_epoch time_us
			fields := strings.Fields(sc.Text())
			if len(fields) >= 3 {
				us, _ := strconv.ParseInt(fields[2], 10, 64)
				lat = append(lat, time.Duration(us)*time.Microsecond)
			}
		}
		f.Close()
	}
	if len(lat) == 0 {
		tb.Fatal("pgbench wrote no transaction log")
	}
	slices.Sort(lat)
	return load{requests: int(tps * d.Seconds()), elapsed: d, p50: lat[len(lat)/2], p99: lat[min(len(lat)-1, len(lat)*99/100)]}
}

// BenchmarkBrowse measures the product page and search results over a real socket, on a
// catalog of 2,001 products spread over three stores (667 each), as returning guests see
// them, and runs pgbench on the same database right after, so the figures can be read against
// what PostgreSQL does with the cheapest possible tenant-scoped read on this machine now.
// It also measures the two reads alone (search.Service, no HTTP). It prints requests/s and
// p99 for each; the run takes about 40 s whatever -benchtime says.
//
//	go test -run '^$' -bench Browse -benchtime 1x ./apps/storefront
func BenchmarkBrowse(b *testing.B) {
	const perTenant, workers, phase = 667, 16, 6 * time.Second
	w := newWorld(b)
	ctx := scope.WithActor(context.Background(), "system:bench")
	if err := searchtest.Bulk(ctx, w.f.Platform, benchTenants, perTenant); err != nil {
		b.Fatal(err)
	}
	owner, err := db.Open(ctx, w.f.Roles.OwnerURL, 1)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := owner.Bun().ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	owner.Close()
	var docs int
	if err := w.f.Platform.Do(ctx, "bench.count", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT count(*) FROM search_documents").Scan(ctx, &docs)
	}); err != nil {
		b.Fatal(err)
	}
	if docs != perTenant*len(benchTenants) {
		b.Fatalf("%d search documents, want %d", docs, perTenant*len(benchTenants))
	}
	port := w.serve()
	cookies := map[string]string{}
	for _, t := range benchTenants {
		cookies[t] = guestSession(b, w, t+".localhost")
	}
	request := func(rng *rand.Rand, path string) *http.Request {
		t := benchTenants[rng.IntN(len(benchTenants))]
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+path, nil)
		req.Host = t + ".localhost"
		req.Header.Set("Cookie", shopCookie+"="+cookies[t])
		return req
	}
	queries := []string{"headphones", "oak lamp", "jasmine tea", "kettle", "headphnes", "耳机", "茉莉花茶", "blanket 42", "copper"}
	filters := []string{"", "", "&sort=price_asc", "&sort=newest", "&price=900-2500"}

	b.ResetTimer()
	product := hammer(b, workers, phase, func(rng *rand.Rand) *http.Request {
		return request(rng, "/p/bench-"+strconv.Itoa(1+rng.IntN(perTenant)))
	})
	results := hammer(b, workers, phase, func(rng *rand.Rand) *http.Request {
		return request(rng, "/search?q="+url.QueryEscape(queries[rng.IntN(len(queries))])+filters[rng.IntN(len(filters))])
	})
	// The same reads without HTTP, host, session and rendering: what the search slice costs.
	svc := search.NewService(w.f.App)
	currency := map[string]string{}
	for _, t := range demo.Tenants {
		currency[t.Slug] = t.Currency
	}
	pick := func(rng *rand.Rand) (uuid.UUID, string) {
		t := benchTenants[rng.IntN(len(benchTenants))]
		return w.tenant[t], currency[t]
	}
	productRead := closedLoop(b, workers, phase, func(rng *rand.Rand) error {
		t, cur := pick(rng)
		_, err := svc.Product(ctx, t, "bench-"+strconv.Itoa(1+rng.IntN(perTenant)), cur)
		return err
	})
	searchRead := closedLoop(b, workers, phase, func(rng *rand.Rand) error {
		t, cur := pick(rng)
		_, err := svc.Search(ctx, t, search.Query{Q: queries[rng.IntN(len(queries))], Currency: cur,
			PageParams: httpx.PageParams{Limit: 12}})
		return err
	})
	b.StopTimer()
	var tenant, anyProduct uuid.UUID
	if err := w.f.Platform.Do(ctx, "bench.pick", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT tenant_id, product_id FROM search_documents LIMIT 1").Scan(ctx, &tenant, &anyProduct)
	}); err != nil {
		b.Fatal(err)
	}
	pg := pgbench(b, w.f.Roles.AppURL, tenant, anyProduct, workers, phase)

	b.ReportMetric(product.perSecond(), "product-req/s")
	b.ReportMetric(float64(product.p99.Microseconds())/1000, "product-p99-ms")
	b.ReportMetric(results.perSecond(), "search-req/s")
	b.ReportMetric(float64(results.p99.Microseconds())/1000, "search-p99-ms")
	b.ReportMetric(productRead.perSecond(), "product-read/s")
	b.ReportMetric(searchRead.perSecond(), "search-read/s")
	b.ReportMetric(pg.perSecond(), "pgbench-tps")
	b.ReportMetric(float64(pg.p99.Microseconds())/1000, "pgbench-p99-ms")
	fmt.Printf("browse over %d products in %d stores, %d workers, %s each:\n", docs, len(benchTenants), workers, phase)
	fmt.Printf("  product page  %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%.1f%% of pgbench)\n",
		product.perSecond(), ms(product.p50), ms(product.p99), 100*product.perSecond()/pg.perSecond())
	fmt.Printf("  search        %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%.1f%% of pgbench)\n",
		results.perSecond(), ms(results.p50), ms(results.p99), 100*results.perSecond()/pg.perSecond())
	fmt.Printf("  product read  %8.0f /s     p50 %6.2f ms  p99 %6.2f ms  (search.Service.Product, no HTTP)\n",
		productRead.perSecond(), ms(productRead.p50), ms(productRead.p99))
	fmt.Printf("  search read   %8.0f /s     p50 %6.2f ms  p99 %6.2f ms  (search.Service.Search, no HTTP)\n",
		searchRead.perSecond(), ms(searchRead.p50), ms(searchRead.p99))
	fmt.Printf("  pgbench       %8.0f tps    p50 %6.2f ms  p99 %6.2f ms  (BEGIN; set_config; PK read; COMMIT)\n",
		pg.perSecond(), ms(pg.p50), ms(pg.p99))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
