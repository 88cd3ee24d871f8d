package docker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dc "github.com/ory/dockertest/v3/docker"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// image is one image the backend runs clusters of: its server binaries,
// their version and its postgres user, found once by probing it, and its
// initdb template, made by the first cluster of it.
type image struct {
	name    string // as the user named it
	id      string
	binDir  string
	version string
	uid     int // the image's postgres user
	gid     int

	tmplMu sync.Mutex
	tmpl   *template // the initdb template, made by the first Up of the image
}

// major is the server's major version (15 of "15.14"), 0 if unknown.
func (im *image) major() int {
	n, _ := strconv.Atoi(strings.SplitN(im.version, ".", 2)[0])
	return n
}

// ProbeImage checks that an image is on this machine and has a usable
// server, and returns the server's version. The answer is cached: a
// cluster of the image (Spec.Image) starts without probing again. Call
// it before anything starts, for each image a run needs.
func (b *Backend) ProbeImage(name string) (version string, err error) {
	im, err := b.image(name)
	if err != nil {
		return "", err
	}
	return im.version, nil
}

// image returns the image name, probed: cached after the first call that
// succeeded ("" is the default image).
func (b *Backend) image(name string) (*image, error) {
	if name == "" && b.def != nil {
		return b.def, nil
	}
	if name == "" {
		name = DefaultImage
	}
	b.imagesMu.Lock()
	defer b.imagesMu.Unlock()
	if im, ok := b.images[name]; ok {
		return im, nil
	}
	img, err := b.pool.Client.InspectImage(name)
	if err != nil {
		if errors.Is(err, dc.ErrNoSuchImage) {
			return nil, fmt.Errorf("%w: %s is not on this machine and the docker backend never pulls; "+
				"pull it (docker pull %s), or build the local images with `make image` (%s) and `make image PG=17` (%s) and pass --image %s",
				ErrNoImage, name, name, LocalImage, LocalImage17, LocalImage)
		}
		return nil, fmt.Errorf("inspect image %s: %w", name, err)
	}
	im := &image{name: name, id: img.ID}
	if err := b.inspectServer(im); err != nil {
		return nil, err
	}
	b.images[name] = im
	return im, nil
}

// findServer prints the candidate binary directories (pg_config and PATH
// first, then the versioned Debian layout) and the postgres user's ids.
const findServer = `for d in "$(pg_config --bindir 2>/dev/null)" "$(dirname "$(command -v postgres 2>/dev/null || echo /nonexistent/postgres)")"; do
	[ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_basebackup" ] && [ -x "$d/pg_ctl" ] && echo "first $d"
done
for d in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
	[ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_basebackup" ] && [ -x "$d/pg_ctl" ] && echo "versioned $d"
done
echo "uid $(id -u postgres 2>/dev/null)"
echo "gid $(id -g postgres 2>/dev/null)"
`

// inspectServer runs a short-lived container of the image to find the
// server binaries, their version and the postgres user.
func (b *Backend) inspectServer(im *image) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ct, err := b.createContainer(ctx, containerSpec{image: im.id, name: b.resourceName("probe-" + randomHex(2)), labels: map[string]string{LabelNode: "probe"}})
	if err != nil {
		return fmt.Errorf("docker image %s: %w", im.name, err)
	}
	defer b.removeContainers(context.Background(), []string{ct.id})
	var out bytes.Buffer
	code, err := b.exec(ctx, ct.id, "", nil, []string{"sh", "-c", findServer}, nil, &out)
	if err != nil {
		return fmt.Errorf("docker image %s: %w", im.name, err)
	}
	if code != 0 {
		return fmt.Errorf("%w: %s: sh exited with %d: %s", ErrBadImage, im.name, code, lastLines(out.Bytes(), 3))
	}
	var first, versioned []string
	im.uid, im.gid = -1, -1
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "first":
			first = append(first, v)
		case "versioned":
			versioned = append(versioned, v)
		case "uid":
			if n, err := strconv.Atoi(v); err == nil {
				im.uid = n
			}
		case "gid":
			if n, err := strconv.Atoi(v); err == nil {
				im.gid = n
			}
		}
	}
	sort.SliceStable(versioned, func(i, j int) bool { return majorOf(versioned[i]) > majorOf(versioned[j]) })
	switch {
	case len(first) > 0:
		im.binDir = first[0]
	case len(versioned) > 0:
		im.binDir = versioned[0]
	default:
		return fmt.Errorf("%w: %s: no directory with postgres, initdb, pg_basebackup and pg_ctl "+
			"(tried pg_config --bindir, PATH, /usr/lib/postgresql/*/bin)", ErrBadImage, im.name)
	}
	if im.uid < 0 || im.gid < 0 {
		return fmt.Errorf("%w: %s has no postgres user to run the server as", ErrBadImage, im.name)
	}
	out.Reset()
	code, err = b.exec(ctx, ct.id, "postgres", nil, []string{path.Join(im.binDir, "postgres"), "--version"}, nil, &out)
	if err != nil || code != 0 {
		return fmt.Errorf("%w: %s: %s --version: %v %s", ErrBadImage, im.name, path.Join(im.binDir, "postgres"), err, lastLines(out.Bytes(), 3))
	}
	im.version = cluster.ParseServerVersion(out.String())
	return nil
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(path.Base(path.Dir(binDir)))
	return n
}

// ServerVersion is the version of the server the cluster's image has.
func (c *Cluster) ServerVersion() string { return c.img.version }

// Image is the image the cluster's containers run, as named.
func (c *Cluster) Image() string { return c.img.name }

var _ cluster.Versioner = (*Cluster)(nil)
