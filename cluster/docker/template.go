package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	dc "github.com/ory/dockertest/v3/docker"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// template is the backend's initdb template: a fresh data directory, as
// the tar archive Docker gives of it (entries under "data/"), kept in
// memory and extracted into each node's container.
type template struct {
	archive []byte
	conf    []byte // its postgresql.conf
	// adminPassword is its superuser's, random: the harness's first login
	// on a new primary, before the setup SQL sets the cluster's own.
	adminPassword string
}

// template returns the template of the cluster's image (one per image:
// an initdb of one major version is no data directory of another). The
// first call for an image makes it in n's container, whose data directory
// (empty until then) then holds it: initdb there, the directory read back
// as a tar archive. Later calls copy it into n's. Concurrent calls wait
// for the first; a failed one leaves the next to try again.
func (c *Cluster) template(ctx context.Context, n *node) (*template, error) {
	im := c.img
	im.tmplMu.Lock()
	t := im.tmpl
	if t == nil {
		t, err := c.makeTemplate(ctx, n)
		if err == nil {
			im.tmpl = t
		}
		im.tmplMu.Unlock()
		return t, err
	}
	im.tmplMu.Unlock()
	return t, c.b.copyTemplate(ctx, n.ct.id, t)
}

// makeTemplate runs initdb in n's container and reads the data directory
// back.
func (c *Cluster) makeTemplate(ctx context.Context, n *node) (*template, error) {
	pw := cluster.NewPasswords().Admin
	if err := c.initdb(ctx, n, pw); err != nil {
		return nil, err
	}
	// Its control file records the lowest settings a standby is checked
	// against (cluster.MinimalSettings), not initdb's.
	if err := c.run(ctx, n, nil, "postgres", append([]string{"--single", "-D", dataDir}, cluster.SingleUserArgs()...)...); err != nil {
		return nil, fmt.Errorf("template: record minimal settings: %w", err)
	}
	var buf bytes.Buffer
	if err := c.b.pool.Client.DownloadFromContainer(n.ct.id, dc.DownloadFromContainerOptions{Path: dataDir, OutputStream: &buf, Context: ctx}); err != nil {
		return nil, fmt.Errorf("read the template: %w", err)
	}
	t, err := readTemplate(buf.Bytes())
	if err != nil {
		return nil, err
	}
	t.adminPassword = pw
	return t, nil
}

// readTemplate checks a data directory's archive and takes its
// postgresql.conf: every entry under "data/", and pg_control saying it was
// shut down cleanly (cluster.CheckShutDown).
func readTemplate(archive []byte) (*template, error) {
	base := path.Base(dataDir) + "/"
	t := &template{archive: archive}
	var control []byte
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the template: %w", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if !strings.HasPrefix(name+"/", base) {
			return nil, fmt.Errorf("read the template: entry %q outside %s", h.Name, base)
		}
		switch strings.TrimPrefix(name, base) {
		case "postgresql.conf":
			t.conf, err = io.ReadAll(tr)
		case "global/pg_control":
			control, err = io.ReadAll(tr)
		}
		if err != nil {
			return nil, fmt.Errorf("read the template: %w", err)
		}
	}
	if t.conf == nil || control == nil {
		return nil, errors.New("read the template: no postgresql.conf or global/pg_control")
	}
	if err := cluster.CheckShutDown(control); err != nil {
		return nil, fmt.Errorf("the template: %w", err)
	}
	return t, nil
}

// copyTemplate extracts the template into the data directory of the
// container id (its owners and modes kept).
func (b *Backend) copyTemplate(ctx context.Context, id string, t *template) error {
	err := b.pool.Client.UploadToContainer(id, dc.UploadToContainerOptions{
		Path: homeDir, InputStream: bytes.NewReader(t.archive), Context: ctx,
	})
	if err != nil {
		return fmt.Errorf("copy the template: %w", err)
	}
	return nil
}
