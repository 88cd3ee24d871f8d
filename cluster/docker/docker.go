package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// DefaultImage is the image used when Options.Image is empty.
const DefaultImage = "postgres:16"

// LocalImage is the image scripts/image.sh (make image) builds.
const LocalImage = "pgbench-ha/postgres:15"

// LocalImage17 is the image `make image PG=17` builds: PostgreSQL 17
// from Debian trixie (failover slots).
const LocalImage17 = "pgbench-ha/postgres:17"

// Labels on every container and network the backend creates.
const (
	LabelOwner   = "pgbench-ha"      // "1"
	LabelRun     = "pgbench-ha.run"  // the backend's run id
	LabelPID     = "pgbench-ha.pid"  // the harness's process id
	LabelHost    = "pgbench-ha.host" // the harness's host name
	LabelCluster = "pgbench-ha.cluster"
	LabelNode    = "pgbench-ha.node"
)

var (
	// ErrNoDocker means the Docker daemon could not be reached.
	ErrNoDocker = errors.New("docker daemon not reachable")
	// ErrNoImage means the image is not on this machine (the backend never
	// pulls).
	ErrNoImage = errors.New("docker image not found")
	// ErrBadImage means the image has no usable PostgreSQL server.
	ErrBadImage = errors.New("docker image has no usable PostgreSQL server")
	// ErrClosed is returned by Up after Close.
	ErrClosed = errors.New("docker backend closed")
)

// Options configure the docker backend.
type Options struct {
	// Image holds the PostgreSQL server; default DefaultImage. It must
	// already be on this machine: pull it, or build LocalImage with
	// `make image`.
	Image string
	// Endpoint is the Docker daemon; empty means DOCKER_HOST, else the
	// default socket.
	Endpoint string
	// RunID is the value of the pgbench-ha.run label and part of every
	// resource name; empty means a random one.
	RunID string
}

// Backend runs clusters in Docker containers. Its methods are safe for
// concurrent use.
type Backend struct {
	pool   *dockertest.Pool
	def    *image // Options.Image, probed by New
	runID  string
	labels map[string]string

	// images are the images probed, by name as given (Spec.Image), each
	// with its server and its initdb template; def among them.
	imagesMu sync.Mutex
	images   map[string]*image

	mu         sync.Mutex
	closed     bool
	network    *dc.Network
	containers map[string]string // id → name, everything created and not removed
	ids        map[string]int    // cluster ids used, for unique names
}

// New connects to the Docker daemon, checks the image is here and finds
// the server binaries and the postgres user in it. Call Close.
func New(opts Options) (*Backend, error) {
	name := opts.Image
	if name == "" {
		name = DefaultImage
	}
	pool, err := dockertest.NewPool(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	if err := pingTimeout(pool.Client, 5*time.Second); err != nil {
		return nil, fmt.Errorf("%w at %s: %v (is it running, and may this user use it?)", ErrNoDocker, pool.Client.Endpoint(), err)
	}
	runID := opts.RunID
	if runID == "" {
		runID = randomHex(4)
	}
	host, _ := os.Hostname()
	b := &Backend{
		pool:   pool,
		images: map[string]*image{},
		runID:  runID,
		labels: map[string]string{
			LabelOwner: "1",
			LabelRun:   runID,
			LabelPID:   strconv.Itoa(os.Getpid()),
			LabelHost:  host,
		},
		containers: map[string]string{},
		ids:        map[string]int{},
	}
	def, err := b.image(name)
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	b.def = def
	return b, nil
}

func pingTimeout(c *dc.Client, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.PingWithContext(ctx)
}

// Name is "docker".
func (b *Backend) Name() string { return "docker" }

// ServerVersion is the version of the default image's server (a
// cluster of another image says its own: Cluster.ServerVersion).
func (b *Backend) ServerVersion() string { return b.def.version }

// Image is the default image the containers run, as given.
func (b *Backend) Image() string { return b.def.name }

// BinDir is where the server binaries are inside the default image.
func (b *Backend) BinDir() string { return b.def.binDir }

// RunID is the value of the pgbench-ha.run label on everything the
// backend creates.
func (b *Backend) RunID() string { return b.runID }

// Abilities: docker clusters kill, stop and pause nodes and cut links
// between nodes (iptables in the containers); client groups have no links
// of their own.
func (b *Backend) Abilities() cluster.Abilities {
	return cluster.Abilities{Kill: true, Stop: true, Pause: true, NodeCuts: true}
}

var (
	_ cluster.Backend = (*Backend)(nil)
	_ cluster.Able    = (*Backend)(nil)
)

// Close removes every container and the network the backend created,
// whether or not their clusters are down, and refuses further Up calls.
// It is quick (containers are removed in parallel, with force) so it can
// run on a forced exit, and safe to call more than once.
func (b *Backend) Close() error {
	b.mu.Lock()
	b.closed = true
	var ids []string
	for id := range b.containers {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Also whatever carries the run's label and was not registered (a
	// create interrupted before it answered).
	if found, err := b.listContainers(ctx, map[string]string{LabelRun: b.runID}); err == nil {
		for _, c := range found {
			ids = append(ids, c.ID)
		}
	}
	errs := []error{b.removeContainers(ctx, ids)}
	b.mu.Lock()
	network := b.network
	b.network = nil
	b.mu.Unlock()
	if network != nil {
		if err := b.pool.Client.RemoveNetwork(network.ID); err != nil && !isNoSuch(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", network.Name, err))
		}
	}
	nets, err := b.pool.Client.FilteredListNetworks(dc.NetworkFilterOpts{"label": {LabelRun + "=" + b.runID: true}})
	if err == nil {
		for _, n := range nets {
			if err := b.pool.Client.RemoveNetwork(n.ID); err != nil && !isNoSuch(err) {
				errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ensureNetwork creates the run's private network on first use.
func (b *Backend) ensureNetwork() (*dc.Network, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if b.network != nil {
		return b.network, nil
	}
	n, err := b.pool.CreateNetwork(b.resourceName(""), func(o *dc.CreateNetworkOptions) {
		o.Driver = "bridge"
		o.Labels = b.labelsWith(nil)
		o.CheckDuplicate = true
		// Published ports default to loopback on this network too.
		o.Options = map[string]interface{}{"com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"}
	})
	if err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	b.network = n.Network
	return b.network, nil
}

// resourceName is pgbench-ha-<run>[-suffix].
func (b *Backend) resourceName(suffix string) string {
	if suffix == "" {
		return "pgbench-ha-" + b.runID
	}
	return "pgbench-ha-" + b.runID + "-" + suffix
}

func (b *Backend) labelsWith(extra map[string]string) map[string]string {
	out := make(map[string]string, len(b.labels)+len(extra))
	for k, v := range b.labels {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// clusterID returns a unique, name-safe id for a cluster.
func (b *Backend) clusterID(want string) string {
	want = unsafeName.Replace(want)
	if want == "" {
		want = "c"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ids[want]++
	if n := b.ids[want]; n > 1 {
		return want + "-" + strconv.Itoa(n)
	}
	return want
}

var unsafeName = strings.NewReplacer(" ", "_", "/", "_", ":", "_", "@", "_", "+", "_", "=", "_", ",", "_")

func randomHex(n int) string {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		panic(err)
	}
	return hex.EncodeToString(buf)
}
