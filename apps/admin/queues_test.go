package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"mercato/apps/admin"
)

// testRedis is this package's Redis database; other packages' tests use others.
var testRedis = asynq.RedisClientOpt{Addr: "127.0.0.1:6379", DB: 11}

// withQueues mounts the queue console and card on opt.
func withQueues(opt asynq.RedisConnOpt) func(*admin.Deps) {
	return func(d *admin.Deps) { d.Queues = opt }
}

// freshQueues empties the package's Redis database now and after the test.
func freshQueues(t *testing.T) asynq.RedisConnOpt {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testRedis.Addr, DB: testRedis.DB})
	flush := func() error { return rdb.FlushDB(context.Background()).Err() }
	if err := flush(); err != nil {
		t.Fatalf("these tests need Redis at %s: %v", testRedis.Addr, err)
	}
	t.Cleanup(func() {
		_ = flush()
		_ = rdb.Close()
	})
	return testRedis
}

// seedQueues leaves, in the worker's queues: critical 2 pending; default 1 scheduled and 1
// archived after a worker failed it (so processed 1 and failed 1 today); low 1 archived by
// hand (task id "low-1"). It runs a real asynq server on default until the failure lands.
func seedQueues(t *testing.T, opt asynq.RedisConnOpt) {
	t.Helper()
	client := asynq.NewClient(opt)
	defer client.Close()
	ins := asynq.NewInspector(opt)
	defer ins.Close()
	for _, tc := range []struct {
		task *asynq.Task
		opts []asynq.Option
	}{
		{asynq.NewTask("test:ok", []byte(`{"n":1}`)), []asynq.Option{asynq.Queue("critical")}},
		{asynq.NewTask("test:ok", []byte(`{"n":2}`)), []asynq.Option{asynq.Queue("critical")}},
		{asynq.NewTask("test:later", nil), []asynq.Option{asynq.Queue("default"), asynq.ProcessIn(time.Hour)}},
		{asynq.NewTask("test:fail", nil), []asynq.Option{asynq.Queue("default"), asynq.MaxRetry(0), asynq.TaskID("default-1")}},
		{asynq.NewTask("test:ok", nil), []asynq.Option{asynq.Queue("low"), asynq.TaskID("low-1")}},
	} {
		if _, err := client.Enqueue(tc.task, tc.opts...); err != nil {
			t.Fatal(err)
		}
	}
	if err := ins.ArchiveTask("low", "low-1"); err != nil {
		t.Fatal(err)
	}
	srv := asynq.NewServer(opt, asynq.Config{Queues: map[string]int{"default": 1}, Concurrency: 1,
		LogLevel: asynq.FatalLevel, ShutdownTimeout: time.Second})
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:fail", func(context.Context, *asynq.Task) error {
		return fmt.Errorf("test failure: %w", asynq.SkipRetry)
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := ins.GetQueueInfo("default")
		if err == nil && info.Archived == 1 && info.Failed == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing task was not archived: %+v %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queueCounts reads the dashboard's queue table: queue -> column -> number.
func queueCounts(page string) map[string]map[string]string {
	out := map[string]map[string]string{}
	rows := regexp.MustCompile(`(?s)<tr id="queue-([a-z]+)">(.*?)</tr>`).FindAllStringSubmatch(page, -1)
	cell := regexp.MustCompile(`(?s)data-count="([a-z]+)">(.*?)</td>`)
	for _, r := range rows {
		out[r[1]] = map[string]string{}
		for _, c := range cell.FindAllStringSubmatch(r[2], -1) {
			out[r[1]][c[1]] = text(c[2])
		}
	}
	return out
}

// The dashboard's card shows, per queue, what waits, runs, is scheduled, retries and is
// archived, and today's processed and failed counts, read from Redis through asynq's
// inspector; archived tasks link to where they can be retried or deleted.
func TestQueueCard(t *testing.T) {
	opt := freshQueues(t)
	seedQueues(t, opt)
	w := newWorld(t, "", withQueues(opt))
	op := w.signIn("operator@mercato.test")

	r := op.get("/admin")
	if r.status != 200 {
		t.Fatalf("dashboard: %d", r.status)
	}
	checkPage(t, "dashboard", r)
	got := queueCounts(r.body)
	for _, tc := range []struct {
		queue string
		want  map[string]string
	}{
		{"critical", map[string]string{"pending": "2", "active": "0", "scheduled": "0", "retry": "0", "archived": "0", "processed": "0", "failed": "0"}},
		{"default", map[string]string{"pending": "0", "active": "0", "scheduled": "1", "retry": "0", "archived": "1", "processed": "1", "failed": "1"}},
		{"low", map[string]string{"pending": "0", "active": "0", "scheduled": "0", "retry": "0", "archived": "1", "processed": "0", "failed": "0"}},
	} {
		for col, want := range tc.want {
			if got[tc.queue][col] != want {
				t.Errorf("%s %s: %q, want %q", tc.queue, col, got[tc.queue][col], want)
			}
		}
	}
	if len(got) != 3 {
		t.Errorf("queues on the card: %v", got)
	}
	for _, want := range []string{
		`href="/admin/queues/queues/default?status=archived"`, `href="/admin/queues/queues/low?status=archived"`,
		`id="open-queues"`, `href="/admin/queues"`, // the nav item
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	if strings.Contains(r.body, `href="/admin/queues/queues/critical?status=archived"`) {
		t.Error("a queue without archived tasks links to them")
	}
	if note := text(element(r.body, "queues-archived")); !strings.HasPrefix(note, "2 tasks failed for good and are archived") {
		t.Errorf("archived note %q", note)
	}

	// A queue the worker does not know yet is listed after the three, once it has a task.
	client := asynq.NewClient(opt)
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask("test:ok", nil), asynq.Queue("exports")); err != nil {
		t.Fatal(err)
	}
	if got := queueCounts(op.get("/admin").body); got["exports"]["pending"] != "1" {
		t.Errorf("a fourth queue: %v", got)
	}

	// Chinese labels.
	zh := *op
	zh.lang = "zh-CN"
	if r := zh.get("/admin"); !strings.Contains(r.body, "今日失败") || !strings.Contains(text(element(r.body, "queues-archived")), "个任务最终失败") {
		t.Error("the card is not translated")
	}
}

// With Redis down the dashboard still renders, and its queue card says Redis did not answer;
// without Queues there is neither a card nor a console.
func TestQueueCardWithoutRedis(t *testing.T) {
	down := newWorld(t, "", withQueues(asynq.RedisClientOpt{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond}))
	start := time.Now()
	r := down.signIn("operator@mercato.test").get("/admin")
	if r.status != 200 || text(element(r.body, "stat-total")) != "3" {
		t.Fatalf("dashboard with Redis down: %d %s", r.status, abbreviate(r.body))
	}
	if !strings.Contains(text(element(r.body, "queues-card")), "Queue statistics are unavailable") {
		t.Errorf("the card does not say Redis is down: %q", text(element(r.body, "queues-card")))
	}
	if strings.Contains(r.body, `id="queue-stats"`) {
		t.Error("a table of counts without Redis")
	}
	t.Logf("dashboard with Redis down answered in %v", time.Since(start).Round(time.Millisecond))

	none := newWorld(t, "")
	op := none.signIn("operator@mercato.test")
	if r := op.get("/admin"); strings.Contains(r.body, "queues-card") || strings.Contains(r.body, `href="/admin/queues"`) {
		t.Error("queue card or nav item without Queues")
	}
	if r := op.get("/admin/queues"); r.status != 404 {
		t.Errorf("/admin/queues without Queues: %d", r.status)
	}
}

var (
	scriptSrcRE = regexp.MustCompile(`<script src="(/admin/queues/_mercato/[0-9a-f]{16}\.js)"></script>`)
	inlineRE    = regexp.MustCompile(`<script(\s[^>]*)?>`)
)

// asynqmon answers under /admin/queues behind the portal's sign-in and Casbin: anonymous
// callers go to sign in, a tenant owner gets 403, support reads through a read-only console
// and cannot change anything, the platform admin retries and deletes archived tasks (with the
// session's CSRF token, which the page hands to asynqmon's requests). The page loads nothing
// from another origin and runs no inline script, so the portal's CSP stays as it is.
func TestQueueConsole(t *testing.T) {
	opt := freshQueues(t)
	seedQueues(t, opt)
	w := newWorld(t, "", withQueues(opt))
	anon, owner := w.anonymous(), w.signIn("owner@lumen-goods.test")
	support, op := w.signIn("support@mercato.test"), w.signIn("operator@mercato.test")
	ins := asynq.NewInspector(opt)
	defer ins.Close()
	runAll := "/admin/queues/api/queues/default/archived_tasks:run_all"

	// Who gets in.
	for _, path := range []string{"/admin/queues", "/admin/queues/", "/admin/queues/api/queues", "/admin/queues/queues/default",
		"/admin/queues/static/js/main.5adda2da.chunk.js"} {
		if r := anon.get(path); r.status != 303 || r.location() != "/admin/login?next="+url.QueryEscape(path) {
			t.Errorf("anonymous %s: %d to %q", path, r.status, r.location())
		}
		if r := owner.get(path); r.status != 403 || !strings.Contains(text(r.body), "Not allowed") {
			t.Errorf("tenant owner %s: %d", path, r.status)
		}
		for _, c := range []*client{support, op} {
			if r := c.get(path); r.status != 200 {
				t.Errorf("%s: %d", path, r.status)
			}
		}
	}
	csrf := func(c *client) http.Header { return http.Header{"X-Csrf-Token": {c.csrf}} }
	if r := owner.do("POST", runAll, nil, csrf(owner)); r.status != 403 {
		t.Errorf("tenant owner retries: %d", r.status)
	}
	if r := support.do("POST", runAll, nil, csrf(support)); r.status != 403 {
		t.Errorf("support retries: %d", r.status)
	}
	if r := support.do("DELETE", "/admin/queues/api/queues/low/archived_tasks/low-1", nil, csrf(support)); r.status != 403 {
		t.Errorf("support deletes: %d", r.status)
	}
	if r := op.do("POST", runAll, nil, nil); r.status != 403 {
		t.Errorf("a retry without the CSRF token: %d", r.status)
	}
	if info, _ := ins.GetQueueInfo("default"); info == nil || info.Archived != 1 {
		t.Fatalf("refused requests changed the queue: %+v", info)
	}

	// The page: asynqmon's, with its scripts from 'self' and the session's token.
	for _, tc := range []struct {
		who      string
		c        *client
		readOnly string
	}{{"support", support, "true"}, {"operator", op, "false"}} {
		for _, path := range []string{"/admin/queues", "/admin/queues/queues/default"} { // the app's own routes too
			r := tc.c.get(path)
			if ct := r.header.Get("Content-Type"); r.status != 200 || !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("%s %s: %d %s", tc.who, path, r.status, ct)
			}
			if !strings.Contains(r.body, `<title>Queues · Mercato Admin</title>`) || !strings.Contains(r.body, `<div id="root"></div>`) || !strings.Contains(r.body, `<meta name="csrf-token" content="`+tc.c.csrf+`">`) {
				t.Errorf("%s %s: not asynqmon's page with the token: %s", tc.who, path, r.body)
			}
			for _, m := range inlineRE.FindAllString(r.body, -1) {
				if !strings.Contains(m, "src=") {
					t.Errorf("%s %s: inline script %s", tc.who, path, m)
				}
			}
			if strings.Contains(r.body, "://") || strings.Contains(r.body, `"//`) {
				t.Errorf("%s %s: the page names another origin: %s", tc.who, path, r.body)
			}
			if csp := r.header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self';") || strings.Contains(csp, "script-src") {
				t.Errorf("%s %s: CSP %q", tc.who, path, csp)
			}
			if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("%s %s: Cache-Control %q", tc.who, path, cc)
			}
		}
		r := tc.c.get("/admin/queues")
		var flags string
		for _, m := range scriptSrcRE.FindAllStringSubmatch(r.body, -1) {
			s := tc.c.get(m[1])
			if s.status != 200 || !strings.HasPrefix(s.header.Get("Content-Type"), "text/javascript") {
				t.Errorf("%s: %d %s", m[1], s.status, s.header.Get("Content-Type"))
			}
			if strings.Contains(s.body, "FLAG_READ_ONLY") {
				flags = s.body
			}
		}
		if !strings.Contains(flags, `window.FLAG_ROOT_PATH="\/admin\/queues"`) || !strings.Contains(flags, `window.FLAG_READ_ONLY="`+tc.readOnly+`"`) {
			t.Errorf("%s: asynqmon's settings %q, want read-only %s", tc.who, flags, tc.readOnly)
		}
		if s := tc.c.get("/admin/queues/_mercato/csrf.js"); s.status != 200 || !strings.Contains(s.body, "X-CSRF-Token") {
			t.Errorf("%s csrf.js: %d", tc.who, s.status)
		}
	}
	if r := op.get("/admin/queues/_mercato/nope.js"); r.status != 404 {
		t.Errorf("unknown script: %d", r.status)
	}
	if r := op.get("/admin/queues/static/js/main.5adda2da.chunk.js"); !strings.HasPrefix(r.header.Get("Content-Type"), "application/javascript") ||
		!strings.Contains(r.header.Get("Cache-Control"), "immutable") || len(r.body) < 100_000 {
		t.Errorf("asynqmon's bundle: %s %s %d bytes", r.header.Get("Content-Type"), r.header.Get("Cache-Control"), len(r.body))
	}

	// The API: support reads, the operator retries and deletes archived tasks.
	if r := support.get("/admin/queues/api/queues/default/archived_tasks"); r.status != 200 || !strings.Contains(r.body, `"id":"default-1"`) {
		t.Errorf("support reads archived tasks: %d %s", r.status, r.body)
	}
	if r := op.do("POST", runAll, nil, csrf(op)); r.status != 204 && r.status != 200 {
		t.Fatalf("retry all archived: %d %s", r.status, r.body)
	}
	if info, err := ins.GetQueueInfo("default"); err != nil || info.Archived != 0 || info.Pending != 1 {
		t.Errorf("after the retry: %+v %v", info, err)
	}
	if r := op.do("DELETE", "/admin/queues/api/queues/low/archived_tasks/low-1", nil, csrf(op)); r.status != 204 && r.status != 200 {
		t.Fatalf("delete an archived task: %d %s", r.status, r.body)
	}
	if _, err := ins.GetTaskInfo("low", "low-1"); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("the deleted task: %v", err)
	}
}
