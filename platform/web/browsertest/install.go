package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ChromiumEnv, when set, is the browser executable to use instead of looking one up.
const ChromiumEnv = "MERCATO_CHROMIUM"

// cjkFont is a small Debian font package with Simplified Chinese glyphs, so zh-CN
// screenshots show text rather than boxes.
const cjkFont = "fonts-wqy-microhei"

// findChromium looks for Debian's chromium first, then other Chromium builds on PATH.
func findChromium() (string, bool) {
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// ensureChromium returns the browser to run, installing Debian's chromium (and a CJK font)
// with apt-get when it is missing and the test runs as root. Test packages run in parallel,
// so installs are serialised by a file lock and the second one finds the browser present.
func ensureChromium(t testing.TB) string {
	t.Helper()
	if p, ok := findChromium(); ok {
		ensureCJKFont(t)
		return p
	}
	if os.Geteuid() != 0 {
		t.Fatalf("browsertest: chromium is not installed and this test is not root, so it cannot install it.\n" +
			"Install it with: sudo apt-get update && sudo apt-get install -y chromium " + cjkFont +
			"\n(or set " + ChromiumEnv + " to a Chromium executable)")
	}
	unlock := lockInstall(t)
	defer unlock()
	if p, ok := findChromium(); ok {
		return p
	}
	t.Logf("browsertest: installing chromium with apt-get (once per machine)")
	aptInstall(t, "chromium", cjkFont)
	p, ok := findChromium()
	if !ok {
		t.Fatalf("browsertest: apt-get installed chromium, but no chromium executable is on PATH")
	}
	return p
}

// ensureCJKFont installs a Chinese font when none is present and the test runs as root;
// without one, zh-CN pages still work but their screenshots show boxes, so it only warns.
func ensureCJKFont(t testing.TB) {
	t.Helper()
	if hasCJKFont() {
		return
	}
	if os.Geteuid() != 0 {
		t.Logf("browsertest: no Chinese font installed; zh-CN screenshots will show boxes (apt-get install %s)", cjkFont)
		return
	}
	unlock := lockInstall(t)
	defer unlock()
	if hasCJKFont() {
		return
	}
	t.Logf("browsertest: installing %s with apt-get (once per machine)", cjkFont)
	aptInstall(t, cjkFont)
}

func hasCJKFont() bool {
	out, err := exec.Command("fc-list", ":lang=zh", "family").Output()
	return err == nil && strings.TrimSpace(string(out)) != ""
}

func aptInstall(t testing.TB, pkgs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for _, args := range [][]string{
		{"update"},
		append([]string{"install", "-y", "--no-install-recommends"}, pkgs...),
	} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("browsertest: apt-get %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 4000))
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// lockPath is shared by every test process on the machine.
func lockPath() string { return fmt.Sprintf("%s/mercato-browsertest-install.lock", os.TempDir()) }
