package docker

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dc "github.com/ory/dockertest/v3/docker"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/clustertest"
	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
)

// ImageEnv names the image the tests run; default LocalImage.
const ImageEnv = "PGBENCH_HA_DOCKER_IMAGE"

func testImage() string {
	if img := os.Getenv(ImageEnv); img != "" {
		return img
	}
	return LocalImage
}

// newBackend returns a backend with a run id of its own, closed at the end
// of the test, after which nothing labelled with that run id may remain.
// The test is skipped with -short, or without Docker or the image, unless
// testgate.RequireDocker is set (CI sets it and builds the image first).
func newBackend(t *testing.T) *Backend {
	t.Helper()
	testgate.Integration(t)
	b, err := New(Options{Image: testImage(), RunID: "test-" + randomHex(3)})
	if errors.Is(err, ErrNoDocker) || errors.Is(err, ErrNoImage) {
		testgate.Missing(t, testgate.RequireDocker, err)
	}
	if err != nil {
		t.Fatalf("docker backend: %v", err)
	}
	t.Cleanup(func() {
		start := time.Now()
		if err := b.Close(); err != nil {
			t.Errorf("close backend: %v", err)
		}
		t.Logf("close: %s", time.Since(start).Round(time.Millisecond))
		assertNoLeftovers(t, b, true)
	})
	return b
}

// assertNoLeftovers fails when a container (or, with networks, a network)
// labelled with b's run id exists.
func assertNoLeftovers(t *testing.T, b *Backend, networks bool) {
	t.Helper()
	cts, err := b.listContainers(context.Background(), map[string]string{LabelRun: b.runID})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	for _, c := range cts {
		t.Errorf("container left behind: %v (%s)", c.Names, c.State)
	}
	if !networks {
		return
	}
	nets, err := b.pool.Client.FilteredListNetworks(dc.NetworkFilterOpts{"label": {LabelRun + "=" + b.runID: true}})
	if err != nil {
		t.Fatalf("list networks: %v", err)
	}
	for _, n := range nets {
		t.Errorf("network left behind: %s", n.Name)
	}
}

func TestConformance(t *testing.T) {
	b := newBackend(t)
	clustertest.Exercise(t, b)
}

// waitForContainer waits until a container of b's run labelled node=name
// runs, then calls f.
func waitForContainer(t *testing.T, b *Backend, name string, f func()) {
	go func() {
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			cts, err := b.listContainers(context.Background(), map[string]string{LabelRun: b.runID, LabelNode: name})
			if err == nil && len(cts) > 0 && cts[0].State == "running" {
				f()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
}

// TestUpInterrupted cancels the context in the middle of Up (Ctrl-C):
// Up returns promptly and leaves no container behind.
func TestUpInterrupted(t *testing.T) {
	b := newBackend(t)
	for _, after := range []time.Duration{0, 700 * time.Millisecond} {
		t.Run("after"+after.String(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cancelled time.Time
			waitForContainer(t, b, "primary", func() {
				time.Sleep(after)
				cancelled = time.Now()
				cancel()
			})
			c, err := b.Up(ctx, clustertest.Spec(t.TempDir()))
			if err == nil {
				c.Down(context.Background())
				t.Fatal("Up succeeded although its context was cancelled")
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Up error %q does not say it was cancelled", err)
			}
			if took := time.Since(cancelled); took > 15*time.Second {
				t.Errorf("Up returned %s after the cancel", took)
			}
			t.Logf("Up returned %s after the cancel: %v", time.Since(cancelled).Round(time.Millisecond), err)
			assertNoLeftovers(t, b, false)
		})
	}
}

// TestCloseDuringUp is the forced exit (second Ctrl-C): Close while Up
// runs removes everything, quickly, and Up fails.
func TestCloseDuringUp(t *testing.T) {
	b := newBackend(t)
	closed := make(chan time.Duration, 1)
	waitForContainer(t, b, "replica2", func() {
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		closed <- time.Since(start)
	})
	c, err := b.Up(context.Background(), clustertest.Spec(t.TempDir()))
	if err == nil {
		c.Down(context.Background())
		t.Fatal("Up succeeded although the backend was closed")
	}
	took := <-closed
	t.Logf("Close took %s; Up: %v", took.Round(time.Millisecond), err)
	if took > 10*time.Second {
		t.Errorf("Close took %s", took)
	}
	assertNoLeftovers(t, b, true)
	if _, err := b.Up(context.Background(), clustertest.Spec(t.TempDir())); !errors.Is(err, ErrClosed) {
		t.Errorf("Up after Close: %v, want ErrClosed", err)
	}
}

func TestMissingImage(t *testing.T) {
	testgate.Integration(t)
	_, err := New(Options{Image: "pgbench-ha/absent:0"})
	if errors.Is(err, ErrNoDocker) {
		testgate.Missing(t, testgate.RequireDocker, err)
	}
	if !errors.Is(err, ErrNoImage) {
		t.Fatalf("New with an absent image: %v, want ErrNoImage", err)
	}
	for _, want := range []string{"pgbench-ha/absent:0", "docker pull", "make image", "--image " + LocalImage} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestFaultKinds: the fault kinds docker's abilities let it inject.
func TestFaultKinds(t *testing.T) {
	var b *Backend
	kinds := fault.Runnable(b.Abilities())
	for _, k := range []string{"isolate", "kill", "partition", "pause", "restart", "stop"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("fault kinds %v lack %s", kinds, k)
		}
	}
	for _, k := range []string{"latency", "bandwidth", "reset"} {
		if slices.Contains(kinds, k) {
			t.Errorf("fault kinds %v include %s, which needs per-link proxies", kinds, k)
		}
	}
	var _ cluster.Able = b
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestCleanup leaves a container and a network as a killed harness would
// and checks Cleanup removes them and keeps those of a live run.
func TestCleanup(t *testing.T) {
	live := newBackend(t)
	crashed := newBackend(t)
	crashed.labels[LabelPID] = strconv.Itoa(deadPID(t))
	ctx := context.Background()
	for _, b := range []*Backend{live, crashed} {
		network, err := b.ensureNetwork()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.createContainer(ctx, containerSpec{image: b.def.id, name: b.resourceName("left"), network: network.Name, publish: true}); err != nil {
			t.Fatal(err)
		}
	}
	found, err := Cleanup(ctx, CleanupOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, l := range found {
		switch l.Run {
		case live.runID:
			if !l.Alive {
				t.Errorf("%s %s of a live run seen as dead", l.Kind, l.Name)
			}
			kinds["live "+l.Kind] = l.Name
		case crashed.runID:
			if l.Alive {
				t.Errorf("%s %s of a dead run seen as alive", l.Kind, l.Name)
			}
			kinds["crashed "+l.Kind] = l.Name
		}
		if l.Removed {
			t.Errorf("dry run removed %s", l.Name)
		}
	}
	if len(kinds) != 4 {
		t.Fatalf("found %v, want a container and a network of each run", kinds)
	}
	found, err = Cleanup(ctx, CleanupOptions{Run: crashed.runID})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || !found[0].Removed || !found[1].Removed {
		t.Fatalf("cleanup of the crashed run: %+v", found)
	}
	assertNoLeftovers(t, crashed, true)
	found, err = Cleanup(ctx, CleanupOptions{Run: live.runID})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range found {
		if l.Removed {
			t.Errorf("cleanup removed %s %s of a live run", l.Kind, l.Name)
		}
	}
}
