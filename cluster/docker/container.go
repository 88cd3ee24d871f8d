package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

// containerSpec is one container to create.
type containerSpec struct {
	image    string // the image's id
	name     string
	hostname string
	labels   map[string]string // on top of the backend's
	network  string            // network name to join; "" for the default bridge
	publish  bool              // publish 5432/tcp on 127.0.0.1
}

// container is a created and started container.
type container struct {
	id       string
	name     string
	hostPort int // published port on 127.0.0.1; 0 if none
}

const pgPort = dc.Port("5432/tcp")

// waiter is every container's main process: it only waits (POSIX sh and
// sleep, so Debian and Alpine images alike), whatever the image's own
// entrypoint would do. Killing it kills the whole container.
var waiter = []string{"sh", "-c", "while :; do sleep 3600; done"}

// createContainer creates and starts a container whose main process only
// waits, so the harness runs every server process itself with exec. The
// published port is chosen here (not by Docker) so it stays the same when
// the container is started again after a kill. Containers are created
// directly with the client rather than with Pool.RunWithOptions, which
// would pull a missing image and publish every port on all interfaces.
func (b *Backend) createContainer(ctx context.Context, s containerSpec) (*container, error) {
	if s.image == "" {
		// The daemon would make something of an empty image name, not
		// the image the cluster was probed with.
		return nil, fmt.Errorf("container %s: no image given", s.name)
	}
	for attempt := 1; ; attempt++ {
		if err := b.checkOpen(); err != nil {
			return nil, err
		}
		cfg := &dc.Config{
			Hostname:   s.hostname,
			Image:      s.image,
			Entrypoint: waiter,
			Labels:     b.labelsWith(s.labels),
			Env:        []string{"LC_ALL=C", "TZ=UTC"},
		}
		hc := &dc.HostConfig{
			// Cut (NodePartitioner) runs iptables inside the container.
			CapAdd:  []string{"NET_ADMIN"},
			ShmSize: 256 << 20,
		}
		var port int
		if s.publish {
			p, err := freePort()
			if err != nil {
				return nil, fmt.Errorf("free port: %w", err)
			}
			port = p
			cfg.ExposedPorts = map[dc.Port]struct{}{pgPort: {}}
			hc.PortBindings = map[dc.Port][]dc.PortBinding{pgPort: {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(port)}}}
		}
		var nc *dc.NetworkingConfig
		if s.network != "" {
			hc.NetworkMode = s.network
			nc = &dc.NetworkingConfig{EndpointsConfig: map[string]*dc.EndpointConfig{s.network: {}}}
		}
		created, err := b.pool.Client.CreateContainer(dc.CreateContainerOptions{
			Name: s.name, Config: cfg, HostConfig: hc, NetworkingConfig: nc,
		})
		if err != nil {
			if errors.Is(err, dc.ErrContainerAlreadyExists) {
				return nil, fmt.Errorf("create container %s: a container of that name exists", s.name)
			}
			return nil, fmt.Errorf("create container %s: %w", s.name, err)
		}
		if err := b.register(created.ID, s.name); err != nil {
			_ = b.removeContainers(context.Background(), []string{created.ID})
			return nil, err
		}
		err = b.pool.Client.StartContainer(created.ID, nil)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			_ = b.removeContainers(context.Background(), []string{created.ID})
			if port != 0 && attempt < 5 && portTaken(err) {
				continue // someone took the port between our check and Docker's bind
			}
			return nil, fmt.Errorf("start container %s: %w", s.name, err)
		}
		return &container{id: created.ID, name: s.name, hostPort: port}, nil
	}
}

func portTaken(err error) bool {
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}

func (b *Backend) checkOpen() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	return nil
}

// register records a created container so Close removes it; after Close
// it refuses, and the caller removes the container.
func (b *Backend) register(id, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.containers[id] = name
	return nil
}

// removeContainers removes containers with force (and their anonymous
// volumes) in parallel. Containers already gone are not an error.
func (b *Backend) removeContainers(ctx context.Context, ids []string) error {
	seen := map[string]bool{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			var err error
			for try := 0; try < 3; try++ {
				err = b.pool.Client.RemoveContainer(dc.RemoveContainerOptions{ID: id, Force: true, RemoveVolumes: true, Context: ctx})
				if err == nil || isNoSuch(err) {
					err = nil
					break
				}
				if !strings.Contains(err.Error(), "already in progress") {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err == nil {
				b.mu.Lock()
				delete(b.containers, id)
				b.mu.Unlock()
				return
			}
			mu.Lock()
			errs = append(errs, fmt.Errorf("remove container %.12s: %w", id, err))
			mu.Unlock()
		}(id)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// listContainers lists containers, running or not, carrying every label.
func (b *Backend) listContainers(ctx context.Context, labels map[string]string) ([]dc.APIContainers, error) {
	return listByLabels(ctx, b.pool.Client, labels)
}

func listByLabels(ctx context.Context, c *dc.Client, labels map[string]string) ([]dc.APIContainers, error) {
	var f []string
	for k, v := range labels {
		f = append(f, k+"="+v)
	}
	return c.ListContainers(dc.ListContainersOptions{All: true, Filters: map[string][]string{"label": f}, Context: ctx})
}

func isNoSuch(err error) bool {
	var nc *dc.NoSuchContainer
	var nn *dc.NoSuchNetwork
	var de *dc.Error
	switch {
	case errors.As(err, &nc), errors.As(err, &nn):
		return true
	case errors.As(err, &de):
		return de.Status == http.StatusNotFound
	}
	return false
}

// exec runs cmd in the container as user ("" for the image's default)
// and returns its exit code. Output (stdout and stderr) goes to out. When
// ctx ends first it returns ctx.Err() and leaves the process to the
// container's removal.
func (b *Backend) exec(ctx context.Context, id, user string, env, cmd []string, stdin io.Reader, out io.Writer) (int, error) {
	if out == nil {
		out = io.Discard
	}
	ex, err := b.pool.Client.CreateExec(dc.CreateExecOptions{
		Container: id, Cmd: cmd, User: user, Env: env,
		AttachStdout: true, AttachStderr: true, AttachStdin: stdin != nil, Context: ctx,
	})
	if err != nil {
		return -1, fmt.Errorf("exec %s: %w", cmd[0], err)
	}
	cw, err := b.pool.Client.StartExecNonBlocking(ex.ID, dc.StartExecOptions{
		OutputStream: out, ErrorStream: out, InputStream: stdin, Context: ctx,
	})
	if err != nil {
		return -1, fmt.Errorf("exec %s: %w", cmd[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cw.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cw.Close()
		return -1, ctx.Err()
	}
	if err != nil {
		return -1, fmt.Errorf("exec %s: %w", cmd[0], err)
	}
	// The stream ends as the process exits; the exit code follows.
	for i := 0; ; i++ {
		ins, err := b.pool.Client.InspectExec(ex.ID)
		if err != nil {
			return -1, fmt.Errorf("exec %s: %w", cmd[0], err)
		}
		if !ins.Running || i >= 200 {
			return ins.ExitCode, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// server is a long-running process started with exec (postgres). done is
// closed when its output stream ends: the process exited, or the
// container was killed or removed.
type server struct {
	done chan struct{}
	cw   dc.CloseWaiter
	err  error
}

func (s *server) running() bool {
	if s == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// wait waits for the process to end, up to d.
func (s *server) wait(d time.Duration) bool {
	if s == nil {
		return true
	}
	select {
	case <-s.done:
		return true
	case <-time.After(d):
		return false
	}
}

// execServer starts cmd in the container as user without waiting for it;
// its output goes to out.
func (b *Backend) execServer(id, user string, env, cmd []string, out io.Writer) (*server, error) {
	ex, err := b.pool.Client.CreateExec(dc.CreateExecOptions{
		Container: id, Cmd: cmd, User: user, Env: env, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", cmd[0], err)
	}
	cw, err := b.pool.Client.StartExecNonBlocking(ex.ID, dc.StartExecOptions{OutputStream: out, ErrorStream: out})
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", cmd[0], err)
	}
	s := &server{done: make(chan struct{}), cw: cw}
	go func() {
		s.err = cw.Wait()
		close(s.done)
	}()
	return s, nil
}

// file is one entry of an archive uploaded into a container.
type file struct {
	name string // relative to the upload directory
	body []byte
	mode int64
	dir  bool
	uid  int
	gid  int
}

// writeFiles extracts files into dir in the container, with the owners
// and modes given (no shell or tool needed in the image).
func (b *Backend) writeFiles(ctx context.Context, id, dir string, files ...file) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: now, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.dir {
			h.Typeflag, h.Size, h.Name = tar.TypeDir, 0, strings.TrimSuffix(f.name, "/")+"/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !f.dir {
			if _, err := tw.Write(f.body); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := b.pool.Client.UploadToContainer(id, dc.UploadToContainerOptions{Path: dir, InputStream: &buf, Context: ctx}); err != nil {
		return fmt.Errorf("write %s in container: %w", dir, err)
	}
	return nil
}

// readFile reads one regular file from the container.
func (b *Backend) readFile(ctx context.Context, id, p string) ([]byte, error) {
	var buf bytes.Buffer
	if err := b.pool.Client.DownloadFromContainer(id, dc.DownloadFromContainerOptions{Path: p, OutputStream: &buf, Context: ctx}); err != nil {
		return nil, fmt.Errorf("read %s in container: %w", p, err)
	}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("read %s in container: %w", p, err)
		}
		if h.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logWriter is a node's server log: the file in the log dir (if any) and
// the last few KB kept for error messages. Safe for concurrent use.
type logWriter struct {
	mu    sync.Mutex
	f     io.WriteCloser
	tail  []byte
	ready chan struct{} // signalled when the server says it is ready
}

const tailSize = 4096

func newLogWriter() *logWriter { return &logWriter{ready: make(chan struct{}, 1)} }

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_, _ = l.f.Write(p)
	}
	// "database system is ready to accept [read-only] connections": a
	// hint only (messages may be translated); start polls anyway.
	if bytes.Contains(p, []byte("ready to accept")) {
		select {
		case l.ready <- struct{}{}:
		default:
		}
	}
	l.tail = append(l.tail, p...)
	if len(l.tail) > tailSize {
		l.tail = append([]byte(nil), l.tail[len(l.tail)-tailSize:]...)
	}
	return len(p), nil
}

func (l *logWriter) last(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return lastLines(l.tail, n)
}

func (l *logWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
