package cluster

import "sync"

// Roles is who is primary and who replicates, as the harness believes it
// now. The failover controller changes it; probes and the audit read it.
// It is safe for concurrent use.
type Roles struct {
	mu       sync.RWMutex
	primary  string
	replicas []string
	down     map[string]bool
}

// NewRoles starts with primary and replicas as built.
func NewRoles(primary string, replicas []string) *Roles {
	return &Roles{primary: primary, replicas: append([]string(nil), replicas...), down: map[string]bool{}}
}

// Primary is the node writes should go to.
func (r *Roles) Primary() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.primary
}

// Replicas are the standbys believed alive, in order.
func (r *Roles) Replicas() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.replicas))
	for _, n := range r.replicas {
		if !r.down[n] {
			out = append(out, n)
		}
	}
	return out
}

// Promote makes node the primary; the old primary leaves the cluster.
// Promoting the node that is already primary changes nothing: a promote
// fault and the observer of a manager may both see the same promotion.
func (r *Roles) Promote(node string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.primary
	if node == old {
		return
	}
	r.primary = node
	var reps []string
	for _, n := range r.replicas {
		if n != node {
			reps = append(reps, n)
		}
	}
	r.replicas = reps
	r.down[old] = true
}

// MarkDown records that node is out of service (killed, stopped).
func (r *Roles) MarkDown(node string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down[node] = true
}

// IsDown reports whether node was marked down.
func (r *Roles) IsDown(node string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.down[node]
}

// MarkUp records that node is back in service (started again).
func (r *Roles) MarkUp(node string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.down, node)
}
