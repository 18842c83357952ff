package devservices

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

const (
	buildTimeout   = 20 * time.Minute
	installTimeout = 10 * time.Minute
)

// findSystemBinary looks in PATH, then in Debian's versioned PostgreSQL directories, newest
// major version first (initdb and pg_ctl are not on PATH there).
func findSystemBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int {
		va, vb := version(a), version(b)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	for _, dir := range dirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or /usr/lib/postgresql/*/bin", name)
}

// aptInstall installs a Debian package, which only root can do.
func aptInstall(ctx context.Context, log *slog.Logger, pkg string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not running as root, so %s was not installed automatically", pkg)
	}
	apt, err := exec.LookPath("apt-get")
	if err != nil {
		return fmt.Errorf("apt-get not found, so %s was not installed automatically", pkg)
	}
	ctx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	log.Info("installing " + pkg + " with apt-get (once)")
	// The dpkg lock timeout lets PostgreSQL's and Redis's installs, which Ensure runs in
	// parallel, take turns instead of failing.
	for _, args := range [][]string{
		{"-o", "DPkg::Lock::Timeout=300", "-q", "update"},
		{"-o", "DPkg::Lock::Timeout=300", "-q", "-y", "--no-install-recommends", "install", pkg},
	} {
		cmd := exec.CommandContext(ctx, apt, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", args[len(args)-1], err, lastLines(string(out), 10))
		}
	}
	return nil
}

// ensureBinary returns Root/.bin/<name>, building it from module with `go install` first if it
// is missing. The caller holds the service lock, so concurrent callers build it once.
func ensureBinary(ctx context.Context, o Options, name, module, human, expect string) (string, error) {
	bin := filepath.Join(o.binDir(), name)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("devservices: %s is missing and there is no go command to build it (install Go, or put a %s binary at %s)", human, name, bin)
	}
	if err := os.MkdirAll(o.binDir(), 0o755); err != nil {
		return "", fmt.Errorf("devservices: build %s: %w", human, err)
	}
	o.Log.Info("building "+human+" once into .bin ("+expect+")", "module", module)
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()

	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, goTool, "install", module)
	cmd.Dir = o.binDir() // outside any module, so nothing of the project's go.mod applies
	cmd.Env = append(os.Environ(), "GOBIN="+o.binDir())
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second

	done := make(chan struct{})
	defer close(done)
	go func() {
		start := time.Now()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				o.Log.Info("still building "+human, "elapsed", time.Since(start).Round(time.Second))
			}
		}
	}()

	start := time.Now()
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (gave up after %s)", ctx.Err(), time.Since(start).Round(time.Second))
		}
		return "", fmt.Errorf("devservices: building %s (go install %s) failed: %w; last output:\n%s",
			human, module, err, lastLines(out.String(), 20))
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("devservices: go install %s succeeded but %s is missing", module, bin)
	}
	o.Log.Info("built "+human, "bin", bin, "took", time.Since(start).Round(time.Second))
	return bin, nil
}
