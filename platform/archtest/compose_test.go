package archtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"mercato/platform/config"
)

// settings maps every environment name that config.Config reads to its secret tag
// ("" for plain settings, "url" or "value" for secrets).
func settings(t *testing.T) map[string]string {
	t.Helper()
	typ := reflect.TypeFor[config.Config]()
	out := map[string]string{}
	for i := range typ.NumField() {
		if env := typ.Field(i).Tag.Get("env"); env != "" {
			out[env] = typ.Field(i).Tag.Get("secret")
		}
	}
	if len(out) == 0 {
		t.Fatal("config.Config has no env tags")
	}
	return out
}

// The parts of docker-compose.yml the tests read. Compose allows a short and a long form
// for most of them; the types below accept both.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string      `yaml:"image"`
	Build       buildSpec   `yaml:"build"`
	Command     words       `yaml:"command"`
	Environment environment `yaml:"environment"`
	Ports       []portSpec  `yaml:"ports"`
	Expose      words       `yaml:"expose"`
	Volumes     []volume    `yaml:"volumes"`
	DependsOn   dependsOn   `yaml:"depends_on"`
	Healthcheck struct {
		Test words `yaml:"test"`
	} `yaml:"healthcheck"`
}

// containerPorts lists the ports the service declares inside the compose network.
func (s composeService) containerPorts() []string {
	out := slices.Clone([]string(s.Expose))
	for _, p := range s.Ports {
		out = append(out, string(p))
	}
	return out
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// words is a command-like value: a string split on spaces, or a list.
type words []string

func (w *words) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode:
		*w = strings.Fields(n.Value)
	case yaml.SequenceNode:
		*w = nil
		for _, item := range n.Content {
			*w = append(*w, resolve(item).Value)
		}
	default:
		return fmt.Errorf("line %d: want a string or a list", n.Line)
	}
	return nil
}

// environment is a service's environment, from a mapping (merge keys included) or KEY=VALUE list.
type environment map[string]string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	*e = environment{}
	switch n.Kind {
	case yaml.MappingNode:
		var m map[string]any
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			if v != nil {
				(*e)[k] = fmt.Sprint(v)
			} else {
				(*e)[k] = ""
			}
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
	default:
		return fmt.Errorf("line %d: want a mapping or a list", n.Line)
	}
	return nil
}

type buildSpec struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *buildSpec) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		*b = buildSpec{Context: n.Value}
		return nil
	}
	type plain buildSpec
	return n.Decode((*plain)(b))
}

// portSpec is the container side of a ports entry ("8080", "8080:8080", "127.0.0.1:80:8080/tcp"
// or {target: 8080}).
type portSpec string

func (p *portSpec) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	if n.Kind == yaml.MappingNode {
		var long struct {
			Target string `yaml:"target"`
		}
		if err := n.Decode(&long); err != nil {
			return err
		}
		*p = portSpec(long.Target)
		return nil
	}
	s, _, _ := strings.Cut(n.Value, "/")
	*p = portSpec(s[strings.LastIndex(s, ":")+1:])
	return nil
}

type volume struct {
	Source, Target string
}

func (v *volume) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	if n.Kind == yaml.MappingNode {
		type plain volume
		return n.Decode((*plain)(v))
	}
	parts := strings.Split(n.Value, ":")
	if len(parts) < 2 {
		*v = volume{Target: parts[0]}
		return nil
	}
	*v = volume{Source: parts[0], Target: parts[1]}
	return nil
}

// dependsOn maps a service to the condition it waits for.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for s, c := range m {
		(*d)[s] = c.Condition
		if c.Condition == "" {
			(*d)[s] = "service_started"
		}
	}
	return nil
}

func loadCompose(t *testing.T) (root string, c composeFile) {
	t.Helper()
	root = moduleRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return root, c
}

// appServices run the mercato image; the rest are the backing services it needs.
var (
	appServices     = []string{"migrate", "api", "worker"}
	backingServices = map[string]string{ // service: image repository
		"postgres":    "postgres",
		"redis":       "redis",
		"minio":       "minio/minio",
		"stripe-mock": "stripe/stripe-mock",
	}
)

func TestComposeServices(t *testing.T) {
	root, c := loadCompose(t)
	for name, repo := range backingServices {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("service %s is missing", name)
			continue
		}
		if r, _, _ := strings.Cut(s.Image, ":"); r != repo {
			t.Errorf("service %s: image %q, want %s", name, s.Image, repo)
		}
	}
	wantCommand := map[string]string{"migrate": "migrate up", "api": "serve", "worker": "worker"}
	for _, name := range appServices {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("service %s is missing", name)
			continue
		}
		dockerfile := cmp.Or(s.Build.Dockerfile, "Dockerfile")
		if got := filepath.Join(root, s.Build.Context, dockerfile); got != filepath.Join(root, "deploy", "Dockerfile") {
			t.Errorf("service %s builds %s, want deploy/Dockerfile from the repository root", name, got)
		}
		if got := strings.Join(s.Command, " "); got != wantCommand[name] {
			t.Errorf("service %s runs mercato %q, want %q", name, got, wantCommand[name])
		}
	}

	waits := []struct{ service, on, condition string }{
		{"migrate", "postgres", "service_healthy"},
		{"api", "migrate", "service_completed_successfully"},
		{"api", "redis", ""},
		{"api", "minio", ""},
		{"worker", "migrate", "service_completed_successfully"},
		{"worker", "redis", ""},
	}
	for _, w := range waits {
		got, ok := c.Services[w.service].DependsOn[w.on]
		switch {
		case !ok:
			t.Errorf("service %s does not depend on %s", w.service, w.on)
		case w.condition != "" && got != w.condition:
			t.Errorf("service %s waits for %s to be %s, want %s", w.service, w.on, got, w.condition)
		}
	}
	for name, s := range c.Services {
		for on, cond := range s.DependsOn {
			if _, ok := c.Services[on]; !ok {
				t.Errorf("service %s depends on %s, which is not a service", name, on)
			}
			if cond == "service_healthy" && len(c.Services[on].Healthcheck.Test) == 0 {
				t.Errorf("service %s waits for %s to be healthy, but %s has no healthcheck", name, on, on)
			}
		}
	}

	checks := []struct{ service, want string }{
		{"postgres", "pg_isready"},
		{"redis", "redis-cli ping"},
		{"api", "/readyz"},
	}
	for _, hc := range checks {
		if got := strings.Join(c.Services[hc.service].Healthcheck.Test, " "); !strings.Contains(got, hc.want) {
			t.Errorf("service %s healthcheck %q does not run %q", hc.service, got, hc.want)
		}
	}
}

func TestComposeSettingsExist(t *testing.T) {
	_, c := loadCompose(t)
	known := settings(t)
	for _, name := range slices.Sorted(maps.Keys(c.Services)) {
		for key := range c.Services[name].Environment {
			if _, ok := known[key]; strings.HasPrefix(key, "MERCATO_") && !ok {
				t.Errorf("service %s sets %s, which platform/config.Config does not read", name, key)
			}
		}
	}
}

// TestComposeWiring checks that the settings of the mercato services point at the compose
// services and agree with their credentials. A setting left at its default would point at
// 127.0.0.1, which inside a container is the container itself.
func TestComposeWiring(t *testing.T) {
	root, c := loadCompose(t)
	roles := initRoles(t, root, c.Services["postgres"])
	minio := c.Services["minio"].Environment

	required := map[string][]string{
		"migrate": {"MERCATO_DATABASE_OWNER_URL"},
		"api": {"MERCATO_HTTP_ADDR", "MERCATO_DATABASE_URL", "MERCATO_DATABASE_PLATFORM_URL", "MERCATO_REDIS_URL",
			"MERCATO_MINIO_ENDPOINT", "MERCATO_MINIO_ACCESS_KEY", "MERCATO_MINIO_SECRET_KEY", "MERCATO_STRIPE_API_BASE",
			"MERCATO_SECRET_KEY"},
		"worker": {"MERCATO_DATABASE_URL", "MERCATO_DATABASE_PLATFORM_URL", "MERCATO_REDIS_URL",
			"MERCATO_MINIO_ENDPOINT", "MERCATO_MINIO_ACCESS_KEY", "MERCATO_MINIO_SECRET_KEY", "MERCATO_STRIPE_API_BASE",
			"MERCATO_SECRET_KEY"},
	}
	for name, keys := range required {
		for _, k := range keys {
			if _, ok := c.Services[name].Environment[k]; !ok {
				t.Errorf("service %s does not set %s", name, k)
			}
		}
	}

	api := c.Services["api"]
	if host, port, err := net.SplitHostPort(api.Environment["MERCATO_HTTP_ADDR"]); err != nil {
		t.Errorf("api MERCATO_HTTP_ADDR: %v", err)
	} else {
		if isLoopback(host) {
			t.Errorf("api listens on %s, unreachable from outside its container", host)
		}
		if !slices.Contains(api.containerPorts(), port) {
			t.Errorf("api listens on port %s but publishes %v", port, api.containerPorts())
		}
	}

	dbRole := map[string]string{
		"MERCATO_DATABASE_URL":          "mercato_app",
		"MERCATO_DATABASE_OWNER_URL":    "mercato_owner",
		"MERCATO_DATABASE_PLATFORM_URL": "mercato_platform",
	}
	for _, name := range slices.Sorted(maps.Keys(c.Services)) {
		env := c.Services[name].Environment
		for _, key := range slices.Sorted(maps.Keys(env)) {
			val := env[key]
			fail := func(format string, args ...any) {
				t.Helper()
				t.Errorf("service %s %s=%s: %s", name, key, config.MaskURL(val), fmt.Sprintf(format, args...))
			}
			switch key {
			case "MERCATO_DATABASE_URL", "MERCATO_DATABASE_OWNER_URL", "MERCATO_DATABASE_PLATFORM_URL":
				u, err := url.Parse(val)
				if err != nil || u.User == nil {
					fail("want postgres://user:password@postgres:5432/mercato")
					continue
				}
				pw, _ := u.User.Password()
				role := roles[dbRole[key]]
				switch {
				case u.User.Username() != dbRole[key]:
					fail("connects as %s, want %s", u.User.Username(), dbRole[key])
				case role.password != pw:
					fail("password differs from the one deploy/postgres/init.sql gives %s", dbRole[key])
				case u.Hostname() != "postgres" || cmp.Or(u.Port(), "5432") != "5432":
					fail("want host postgres:5432 (the postgres service)")
				case u.Path != "/mercato":
					fail("want database mercato")
				}
			case "MERCATO_REDIS_URL":
				if u, err := url.Parse(val); err != nil || u.Hostname() != "redis" {
					fail("want host redis (the redis service)")
				}
			case "MERCATO_MINIO_ENDPOINT":
				if val != "minio:9000" {
					fail("want minio:9000 (the minio service's S3 port)")
				}
			case "MERCATO_MINIO_ACCESS_KEY":
				if val != minio["MINIO_ROOT_USER"] {
					fail("differs from the minio service's MINIO_ROOT_USER")
				}
			case "MERCATO_MINIO_SECRET_KEY":
				if val != minio["MINIO_ROOT_PASSWORD"] {
					fail("differs from the minio service's MINIO_ROOT_PASSWORD")
				}
			case "MERCATO_STRIPE_API_BASE":
				u, err := url.Parse(val)
				ports := c.Services["stripe-mock"].containerPorts()
				if err != nil || u.Hostname() != "stripe-mock" || !slices.Contains(ports, u.Port()) {
					fail("want http://stripe-mock:PORT with PORT one of the stripe-mock service's %v", ports)
				}
			}
		}
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type sqlRole struct {
	options  []string // upper-case attributes: LOGIN, NOSUPERUSER, BYPASSRLS, ...
	password string
}

var (
	sqlComment    = regexp.MustCompile(`--[^\n]*`)
	sqlCreateRole = regexp.MustCompile(`(?is)\bCREATE\s+ROLE\s+(\w+)([^;]*);`)
	sqlPassword   = regexp.MustCompile(`(?is)\bPASSWORD\s+'([^']*)'`)
	sqlCreateDB   = regexp.MustCompile(`(?is)\bCREATE\s+DATABASE\s+mercato\s+(WITH\s+)?OWNER\s*=?\s*mercato_owner\b`)
)

// initRoles reads the init script the postgres service mounts and checks the roles the
// architecture asks for: mercato_app is subject to row-level security, mercato_platform is not.
func initRoles(t *testing.T, root string, pg composeService) map[string]sqlRole {
	t.Helper()
	var script string
	for _, v := range pg.Volumes {
		if strings.HasPrefix(v.Target, "/docker-entrypoint-initdb.d/") && strings.HasSuffix(v.Source, ".sql") {
			script = filepath.Join(root, v.Source)
		}
	}
	if script != filepath.Join(root, "deploy", "postgres", "init.sql") {
		t.Fatalf("postgres service mounts %q into /docker-entrypoint-initdb.d, want ./deploy/postgres/init.sql", script)
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	sql := sqlComment.ReplaceAllString(string(b), "")
	roles := map[string]sqlRole{}
	for _, m := range sqlCreateRole.FindAllStringSubmatch(sql, -1) {
		r := sqlRole{}
		if pw := sqlPassword.FindStringSubmatch(m[2]); pw != nil {
			r.password = pw[1]
		}
		r.options = strings.Fields(strings.ToUpper(sqlPassword.ReplaceAllString(m[2], "")))
		roles[m[1]] = r
	}
	want := map[string][]string{
		"mercato_owner":    {"LOGIN", "NOSUPERUSER"},
		"mercato_app":      {"LOGIN", "NOSUPERUSER", "NOBYPASSRLS"},
		"mercato_platform": {"LOGIN", "BYPASSRLS"},
	}
	for name, opts := range want {
		r, ok := roles[name]
		if !ok {
			t.Errorf("init.sql does not create role %s", name)
			continue
		}
		for _, o := range opts {
			if !slices.Contains(r.options, o) {
				t.Errorf("init.sql: role %s lacks %s (has %v)", name, o, r.options)
			}
		}
		if r.password == "" {
			t.Errorf("init.sql: role %s has no password", name)
		}
	}
	if !sqlCreateDB.MatchString(sql) {
		t.Error("init.sql does not create database mercato owned by mercato_owner")
	}
	return roles
}

// dockerStage is one FROM ... section of a Dockerfile: its base image and its instructions
// (continuation lines joined, comments dropped).
type dockerStage struct {
	base  string
	instr [][2]string // instruction (upper case), arguments
}

func parseDockerfile(src string) []dockerStage {
	var stages []dockerStage
	var line string
	for raw := range strings.Lines(src) {
		raw = strings.TrimSpace(raw)
		if strings.HasPrefix(raw, "#") || raw == "" {
			continue
		}
		if cont, ok := strings.CutSuffix(raw, `\`); ok {
			line += cont + " "
			continue
		}
		line += raw
		cmd, args, _ := strings.Cut(line, " ")
		cmd, args = strings.ToUpper(cmd), strings.TrimSpace(args)
		line = ""
		if cmd == "FROM" {
			f := slices.DeleteFunc(strings.Fields(args), func(s string) bool { return strings.HasPrefix(s, "--") })
			stages = append(stages, dockerStage{base: f[0]})
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instr = append(stages[len(stages)-1].instr, [2]string{cmd, args})
		}
	}
	return stages
}

// dockerArgs splits an instruction's arguments in exec (JSON) or shell form, dropping --flags.
func dockerArgs(args string) []string {
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		out = strings.Fields(args)
	}
	return slices.DeleteFunc(out, func(s string) bool { return strings.HasPrefix(s, "--") })
}

// TestDockerfile checks the image the mercato services build: it compiles ./apps/mercato
// statically, runs that binary as a non-root user, and contains what compose asks of it.
func TestDockerfile(t *testing.T) {
	root, c := loadCompose(t)
	api := c.Services["api"]
	b, err := os.ReadFile(filepath.Join(root, api.Build.Context, cmp.Or(api.Build.Dockerfile, "Dockerfile")))
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(string(b))
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	final := stages[len(stages)-1]

	var built string // path go build writes the mercato binary to
	for _, st := range stages[:len(stages)-1] {
		for _, in := range st.instr {
			if in[0] != "RUN" {
				continue
			}
			for cmd := range strings.SplitSeq(strings.ReplaceAll(in[1], ";", "&&"), "&&") {
				f := strings.Fields(cmd)
				if !strings.Contains(cmd, "go build") || !slices.Contains(f, "./apps/mercato") {
					continue
				}
				if !slices.Contains(f, "CGO_ENABLED=0") {
					t.Errorf("go build of ./apps/mercato without CGO_ENABLED=0: the runtime image has no libc")
				}
				if i := slices.Index(f, "-o"); i >= 0 && i+1 < len(f) {
					built = f[i+1]
				}
			}
		}
	}
	if built == "" {
		t.Fatal("no build stage runs go build -o ... ./apps/mercato")
	}

	var copied []string // files the final stage copies in
	binary := ""
	user := ""
	var expose, entrypoint []string
	for _, in := range final.instr {
		args := dockerArgs(in[1])
		switch in[0] {
		case "COPY":
			if len(args) >= 2 {
				copied = append(copied, args[len(args)-1])
				if slices.Contains(args[:len(args)-1], built) {
					binary = args[len(args)-1]
				}
			}
		case "USER":
			user = in[1]
		case "EXPOSE":
			expose = append(expose, args...)
		case "ENTRYPOINT":
			entrypoint = args
		}
	}
	if binary == "" {
		t.Errorf("the final stage does not copy %s (the mercato binary)", built)
	} else if len(entrypoint) == 0 || entrypoint[0] != binary {
		t.Errorf("ENTRYPOINT %v does not run %s", entrypoint, binary)
	}

	if user == "" && strings.HasSuffix(final.base, ":nonroot") {
		user = "nonroot"
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("the image runs as root (base %s, USER %q); want USER 65532 or a nonroot base", final.base, user)
	}

	if _, port, err := net.SplitHostPort(api.Environment["MERCATO_HTTP_ADDR"]); err == nil &&
		!slices.ContainsFunc(expose, func(e string) bool { p, _, _ := strings.Cut(e, "/"); return p == port }) {
		t.Errorf("EXPOSE %v does not include the API port %s", expose, port)
	}

	// A distroless or scratch image has no shell and no tools: the API's health check must
	// run a file the image copies in.
	if strings.HasPrefix(final.base, "gcr.io/distroless/") || final.base == "scratch" {
		hc := api.Healthcheck.Test
		if len(hc) < 2 || hc[0] != "CMD" || !slices.Contains(copied, hc[1]) {
			t.Errorf("api healthcheck %v: want [\"CMD\", one of %v, ...]; the %s image has no shell", hc, copied, final.base)
		}
	}
}

func TestParseDockerfile(t *testing.T) {
	stages := parseDockerfile(`# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
RUN CGO_ENABLED=0 \
    # comment inside a continuation
    go build -o /out/x ./apps/mercato
FROM scratch
COPY --from=build /out/x /x
ENTRYPOINT ["/x"]
`)
	if len(stages) != 2 || stages[0].base != "golang:1.26" || stages[1].base != "scratch" {
		t.Fatalf("stages %+v", stages)
	}
	if got := stages[0].instr[0]; got != [2]string{"RUN", "CGO_ENABLED=0  go build -o /out/x ./apps/mercato"} {
		t.Errorf("RUN %q", got)
	}
	if got := dockerArgs(stages[1].instr[0][1]); !slices.Equal(got, []string{"/out/x", "/x"}) {
		t.Errorf("COPY args %q", got)
	}
	if got := dockerArgs(stages[1].instr[1][1]); !slices.Equal(got, []string{"/x"}) {
		t.Errorf("ENTRYPOINT args %q", got)
	}
}
