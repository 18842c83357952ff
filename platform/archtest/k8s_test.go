package archtest

import (
	"errors"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The parts of a Kubernetes object the tests read; Deployment and Job share spec.template.
type k8sObject struct {
	file       string
	Kind       string                `yaml:"kind"`
	Metadata   struct{ Name string } `yaml:"metadata"`
	Data       map[string]any        `yaml:"data"`
	StringData map[string]any        `yaml:"stringData"`
	Resources  []string              `yaml:"resources"` // Kustomization
	Spec       struct {
		Template struct {
			Spec struct {
				Containers []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func (o k8sObject) String() string { return o.file + ": " + o.Kind + " " + o.Metadata.Name }

// keys is every key of a ConfigMap or Secret.
func (o k8sObject) keys() []string {
	keys := slices.Concat(slices.Collect(maps.Keys(o.Data)), slices.Collect(maps.Keys(o.StringData)))
	slices.Sort(keys)
	return keys
}

type k8sContainer struct {
	Name string   `yaml:"name"`
	Args []string `yaml:"args"`
	Env  []struct {
		Name string `yaml:"name"`
	} `yaml:"env"`
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
		SecretRef    *struct{ Name string } `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Ports          []k8sPort `yaml:"ports"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
}

type k8sPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
}

// port resolves a probe's port (number or name) against the container's ports.
func (c k8sContainer) port(p string) string {
	for _, cp := range c.Ports {
		if cp.Name == p {
			return strconv.Itoa(cp.ContainerPort)
		}
	}
	return p
}

func loadManifests(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(moduleRoot(t), "deploy", "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/k8s/*.yaml (%v)", err)
	}
	var out []k8sObject
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(r)
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind != "" {
				o.file = filepath.Base(f)
				out = append(out, o)
			}
		}
		r.Close()
	}
	return out
}

func find(objs []k8sObject, kind, name string) (k8sObject, bool) {
	i := slices.IndexFunc(objs, func(o k8sObject) bool { return o.Kind == kind && o.Metadata.Name == name })
	if i < 0 {
		return k8sObject{}, false
	}
	return objs[i], true
}

// TestKubernetesSettings checks that every MERCATO_* name in the manifests is one the binary
// reads, that secrets stay out of the ConfigMap, and that the committed Secret is an example.
func TestKubernetesSettings(t *testing.T) {
	known := settings(t)
	objs := loadManifests(t)
	var sawConfigMap, sawSecret bool
	for _, o := range objs {
		switch o.Kind {
		case "ConfigMap":
			sawConfigMap = true
			for k, v := range o.Data {
				if _, ok := v.(string); !ok {
					t.Errorf("%s: %s is %T; ConfigMap values must be strings (quote it)", o, k, v)
				}
			}
		case "Secret":
			sawSecret = true
			for k, v := range o.StringData {
				if s, _ := v.(string); !strings.Contains(strings.ToUpper(s), "EXAMPLE") {
					t.Errorf("%s: %s does not look like a placeholder; real secrets do not belong in the repository", o, k)
				}
			}
			if len(o.Data) > 0 {
				t.Errorf("%s: use stringData with placeholders, not base64 data", o)
			}
		}
		for _, k := range o.keys() {
			secret, ok := known[k]
			switch {
			case strings.HasPrefix(k, "MERCATO_") && !ok:
				t.Errorf("%s: %s is not a setting of platform/config.Config", o, k)
			case o.Kind == "ConfigMap" && secret != "":
				t.Errorf("%s: %s is a secret (tag secret:%q); put it in the Secret", o, k, secret)
			}
		}
		for _, c := range o.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if _, ok := known[e.Name]; strings.HasPrefix(e.Name, "MERCATO_") && !ok {
					t.Errorf("%s container %s: %s is not a setting of platform/config.Config", o, c.Name, e.Name)
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					if _, ok := find(objs, "ConfigMap", ef.ConfigMapRef.Name); !ok {
						t.Errorf("%s container %s: no ConfigMap %s in deploy/k8s", o, c.Name, ef.ConfigMapRef.Name)
					}
				}
				if ef.SecretRef != nil {
					if _, ok := find(objs, "Secret", ef.SecretRef.Name); !ok {
						t.Errorf("%s container %s: no Secret (example) %s in deploy/k8s", o, c.Name, ef.SecretRef.Name)
					}
				}
			}
		}
	}
	if !sawConfigMap || !sawSecret {
		t.Errorf("deploy/k8s wants a ConfigMap and an example Secret (found ConfigMap: %v, Secret: %v)", sawConfigMap, sawSecret)
	}
}

// TestKubernetesWorkloads checks that each workload runs the right subcommand and that the
// API's probes and port agree with the binary's routes and MERCATO_HTTP_ADDR.
func TestKubernetesWorkloads(t *testing.T) {
	objs := loadManifests(t)
	for _, w := range []struct{ kind, name, args string }{
		{"Deployment", "mercato-api", "serve"},
		{"Deployment", "mercato-worker", "worker"},
		{"Job", "mercato-migrate", "migrate up"},
	} {
		o, ok := find(objs, w.kind, w.name)
		if !ok {
			t.Errorf("no %s %s in deploy/k8s", w.kind, w.name)
			continue
		}
		cs := o.Spec.Template.Spec.Containers
		if len(cs) != 1 || strings.Join(cs[0].Args, " ") != w.args {
			t.Errorf("%s: want one container running mercato %s", o, w.args)
		}
	}

	api, ok := find(objs, "Deployment", "mercato-api")
	if !ok || len(api.Spec.Template.Spec.Containers) == 0 {
		return
	}
	c := api.Spec.Template.Spec.Containers[0]
	for _, p := range []struct {
		name  string
		probe *k8sProbe
		path  string
	}{
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"livenessProbe", c.LivenessProbe, "/livez"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s: want %s GET %s", api, p.name, p.path)
		}
	}

	cm, ok := find(objs, "ConfigMap", "mercato-config")
	if !ok {
		t.Fatal("no ConfigMap mercato-config")
	}
	addr, _ := cm.Data["MERCATO_HTTP_ADDR"].(string)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: MERCATO_HTTP_ADDR %q: %v", cm, addr, err)
	}
	if isLoopback(host) {
		t.Errorf("%s: MERCATO_HTTP_ADDR %s is unreachable from outside the pod", cm, addr)
	}
	if !slices.ContainsFunc(c.Ports, func(p k8sPort) bool { return strconv.Itoa(p.ContainerPort) == port }) {
		t.Errorf("%s: no containerPort %s (MERCATO_HTTP_ADDR)", api, port)
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.port(c.ReadinessProbe.HTTPGet.Port) != port {
		t.Errorf("%s: readiness probe port %s is not the listening port %s", api, c.ReadinessProbe.HTTPGet.Port, port)
	}
}

// TestKustomization checks that kustomization.yaml lists files that exist and leaves the
// example Secret out, so `kubectl apply -k` never installs placeholder credentials.
func TestKustomization(t *testing.T) {
	objs := loadManifests(t)
	k, ok := find(objs, "Kustomization", "")
	if !ok {
		t.Fatal("no deploy/k8s/kustomization.yaml")
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(moduleRoot(t), "deploy", "k8s", r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
		for _, o := range objs {
			if o.file == r && o.Kind == "Secret" {
				t.Errorf("kustomization.yaml includes %s, the example Secret", r)
			}
		}
	}
}
