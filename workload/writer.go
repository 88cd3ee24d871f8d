package workload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgbench-ha/pgbench-ha/internal/quietconn"
)

// Config configures Run.
type Config struct {
	// DSN reaches whichever node is writable: a multi-host libpq string;
	// Run adds target_session_attrs=read-write.
	DSN     string
	Writers int
	// Rate returns the target rate (writes per second, all writers
	// together) at an offset from the start; 0 means unlimited. Writers
	// call it concurrently while the rate is unlimited.
	Rate func(time.Duration) float64
	// Poisson arrivals (like pgbench --rate) when true, uniform otherwise.
	Poisson  bool
	Seed     int64
	MaxQueue int
	Ledger   *Ledger
	// Start is the instant offsets are measured from.
	Start time.Time
	// Duration ends the schedule; writes in flight then get Grace to
	// finish before their connections are cancelled.
	Duration time.Duration
	Grace    time.Duration
	// NodeOf maps the address a writer is connected to ("host:port") to a
	// node index, so
	// the ledger knows which node acknowledged each write.
	NodeOf func(addr string) int
	// Reconnect is the pause between failed connection attempts;
	// default 5ms.
	Reconnect time.Duration
	// WriteTimeout bounds one write (its outcome is then unknown and the
	// writer reconnects); 0 means none.
	WriteTimeout time.Duration
	// Unnamed sends the insert unprepared, parsed with every write (an
	// unnamed statement), for a pooler that hands each transaction of a
	// client to any server connection (PgBouncer's transaction and
	// statement pooling, which know nothing of prepared statements).
	Unnamed bool
	// ServerNode asks the server, once per connection, the address it
	// answers on, for NodeOf: through a proxy the connection's own
	// address names the proxy, not the node.
	ServerNode bool
}

// Stats is what Run measured, besides the ledger.
type Stats struct {
	Latency   *hdrhistogram.Histogram   // commit latency, µs, whole run
	PerSecond []*hdrhistogram.Histogram // commit latency, µs, by ack second
	SchedLag  *hdrhistogram.Histogram   // send time minus intended time, µs
	Acked     []int64                   // by second of ack
	Failed    []int64
	Unknown   []int64
	Skipped   int64 // arrivals dropped because the queue was full
	NotSent   int64 // arrivals still queued when the run ended
	// Scheduled counts the arrivals the schedule made (each took an id),
	// whatever became of them.
	Scheduled   int64
	Connects    int64
	ConnectErrs int64
}

const maxLatencyUs = 120_000_000 // clamp at 120 s

// NewHistogram is a latency histogram in µs as the writers keep them: 1 µs
// to 120 s, 3 significant digits. Record ClampUs values in it.
func NewHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, maxLatencyUs, 3) }

// NewSecondHistogram is a histogram of one second's latencies (µs): two
// significant digits (1 % resolution), 21 KB where three take 147 KB, so
// that a long run's per-second series stays small (38 MB for 30 minutes).
func NewSecondHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, maxLatencyUs, 2) }

// seconds collects the writers' per-second histograms: each writer fills
// one for its current second and hands it over when its next ack falls in
// a later second, so a run holds one histogram per second, not one per
// writer and second.
type seconds struct {
	mu sync.Mutex
	h  []*hdrhistogram.Histogram
}

func (s *seconds) add(sec int, h *hdrhistogram.Histogram) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h[sec] == nil {
		s.h[sec] = NewSecondHistogram()
	}
	s.h[sec].Merge(h)
}

// Live counters read by progress display while Run works.
type Live struct {
	Acked   atomic.Int64
	Errors  atomic.Int64
	Queue   atomic.Int64
	Writers atomic.Int64 // connected writers
}

type job struct {
	id       int64
	intended time.Duration // offset; <0 when unpaced
}

// Run drives the workload until cfg.Duration has passed (or ctx ends) and
// returns the statistics. Writes go to the ledger as they finish.
func Run(ctx context.Context, cfg Config, live *Live) (*Stats, error) {
	if cfg.Writers < 1 {
		return nil, fmt.Errorf("workload: need at least one writer")
	}
	defer limitProcs()()
	if cfg.Reconnect == 0 {
		cfg.Reconnect = 5 * time.Millisecond
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 100000
	}
	if live == nil {
		live = &Live{}
	}
	pcfg, err := pgx.ParseConfig(cfg.DSN + " target_session_attrs=read-write connect_timeout=2")
	if err != nil {
		return nil, fmt.Errorf("workload: connection string: %w", err)
	}
	pcfg.RuntimeParams["application_name"] = "pgbench-ha-writer"
	quietconn.Config(pcfg)

	secs := int(cfg.Duration/time.Second) + int(cfg.Grace/time.Second) + 2
	schedCtx, stopSched := context.WithDeadline(ctx, cfg.Start.Add(cfg.Duration))
	defer stopSched()
	// Writes in flight at the end get a grace period; then everything stops.
	execCtx, stopExec := context.WithCancel(context.WithoutCancel(ctx))
	defer stopExec()
	go func() {
		select {
		case <-ctx.Done():
			stopExec()
		case <-schedCtx.Done():
			select {
			case <-ctx.Done():
			case <-time.After(cfg.Grace):
			}
			stopExec()
		}
	}()

	sh := newShared(cfg, schedCtx)
	st := &Stats{Latency: NewHistogram(), SchedLag: NewHistogram()}

	var wg sync.WaitGroup
	recs := make([]*recorder, cfg.Writers)
	bySec := &seconds{h: make([]*hdrhistogram.Histogram, secs)}
	for w := 0; w < cfg.Writers; w++ {
		recs[w] = newRecorder(secs, bySec)
		wg.Add(1)
		go func(w int, r *recorder) {
			defer wg.Done()
			writer(execCtx, cfg, pcfg, w, sh, r, live)
		}(w, recs[w])
	}
	dispatch(schedCtx, cfg, sh, live)
	close(sh.queue)
	wg.Wait()

	for range sh.queue { // drained by writers unless ctx ended
		st.NotSent++
	}
	st.Skipped = sh.skipped.Load()
	st.Scheduled = sh.nextID.Load() - cfg.Ledger.FirstID()
	st.Acked = make([]int64, secs)
	st.Failed = make([]int64, secs)
	st.Unknown = make([]int64, secs)
	for _, r := range recs {
		r.flush()
		st.SchedLag.Merge(r.lag)
		st.Latency.Merge(r.lat)
		for i := 0; i < secs; i++ {
			st.Acked[i] += r.acked[i]
			st.Failed[i] += r.failed[i]
			st.Unknown[i] += r.unknown[i]
		}
		st.NotSent += r.notSent
		st.Connects += r.connects
		st.ConnectErrs += r.connectErrs
	}
	st.PerSecond = bySec.h
	for i, h := range st.PerSecond {
		if h == nil {
			st.PerSecond[i] = NewSecondHistogram()
		}
	}
	return st, nil
}

// shared is what the dispatcher and the writers share.
type shared struct {
	queue   chan job
	gate    chan struct{} // one writer at a time looks for a writable node
	sched   context.Context
	rate    func(time.Duration) float64
	start   time.Time
	nextID  atomic.Int64
	skipped atomic.Int64
	mode    atomic.Pointer[mode]
	paced   chan struct{} // a writer saw an unlimited rate turn paced
}

// mode is whether the rate is unlimited now: writers then take ids
// themselves, with no dispatcher round trip.
type mode struct {
	unlimited bool
	changed   chan struct{} // closed when the mode changes
}

func newShared(cfg Config, sched context.Context) *shared {
	sh := &shared{queue: make(chan job, cfg.MaxQueue), gate: make(chan struct{}, 1), sched: sched,
		rate: cfg.Rate, start: cfg.Start, paced: make(chan struct{}, 1)}
	sh.nextID.Store(cfg.Ledger.FirstID())
	sh.mode.Store(&mode{changed: make(chan struct{})})
	return sh
}

// setMode makes the rate unlimited or paced and wakes the writers waiting
// for a change. It reports whether the mode changed.
func (sh *shared) setMode(unlimited bool) bool {
	for {
		old := sh.mode.Load()
		if old.unlimited == unlimited {
			return false
		}
		if sh.mode.CompareAndSwap(old, &mode{unlimited: unlimited, changed: make(chan struct{})}) {
			close(old.changed)
			return true
		}
	}
}

// take returns the next write: from the queue, or, while the rate is
// unlimited, a new id the writer hands itself (no dispatcher round trip).
// A writer that finds the rate paced again hands the schedule back to the
// dispatcher at once. take reports false when the queue is closed and
// drained.
func (sh *shared) take() (job, bool) {
	for {
		select {
		case j, ok := <-sh.queue:
			return j, ok
		default:
		}
		m := sh.mode.Load()
		if m.unlimited && sh.sched.Err() == nil {
			if sh.rate(time.Since(sh.start)) <= 0 {
				return job{id: sh.nextID.Add(1) - 1, intended: -1}, true
			}
			if sh.setMode(false) {
				select {
				case sh.paced <- struct{}{}:
				default:
				}
			}
			continue
		}
		select {
		case j, ok := <-sh.queue:
			return j, ok
		case <-m.changed:
		}
	}
}

// unlimitedPoll is how often the dispatcher looks at an unlimited rate
// itself, for when no writer takes work (all waiting for a node): writers
// that do see a change at once.
const unlimitedPoll = 10 * time.Millisecond

// dispatch generates arrivals on schedule and queues them. Ids are handed
// out in arrival order, so the same seed and rate give the same ids.
// While the rate is unlimited it waits for the rate to be paced again.
func dispatch(ctx context.Context, cfg Config, sh *shared, live *Live) {
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed))
	next := time.Duration(0)
	defer sh.setMode(false)
	for {
		if ctx.Err() != nil {
			return
		}
		rate := cfg.Rate(next)
		if rate <= 0 {
			sh.setMode(true)
			t := time.NewTimer(unlimitedPoll)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-sh.paced:
			case <-t.C:
			}
			t.Stop()
			now := time.Since(cfg.Start)
			if cfg.Rate(now) > 0 {
				// The schedule starts when the rate changed, not when we
				// noticed: arrivals since then are late, and show so.
				next = pacedFrom(cfg.Rate, next, now)
			} else {
				next = now
			}
			continue
		}
		sh.setMode(false)
		gap := 1 / rate
		if cfg.Poisson {
			gap = -math.Log(1-rng.Float64()) / rate
		}
		next += time.Duration(gap * float64(time.Second))
		if next >= cfg.Duration {
			<-ctx.Done()
			return
		}
		if wait := next - time.Since(cfg.Start); wait > 200*time.Microsecond {
			if !sleepCtx(ctx, wait) {
				return
			}
		}
		id := sh.nextID.Add(1) - 1
		select {
		case sh.queue <- job{id: id, intended: next}:
			live.Queue.Store(int64(len(sh.queue)))
		default:
			sh.skipped.Add(1)
		}
	}
}

// pacedFrom is the offset in (from, to] where rate turned positive, to
// the µs, given rate(from) <= 0 < rate(to).
func pacedFrom(rate func(time.Duration) float64, from, to time.Duration) time.Duration {
	for to-from > time.Microsecond {
		mid := from + (to-from)/2
		if rate(mid) > 0 {
			to = mid
		} else {
			from = mid
		}
	}
	return to
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type recorder struct {
	lag *hdrhistogram.Histogram
	// lat is the writer's whole-run service time, at full precision;
	// cur its current second's (curSec), handed to bySec when done.
	lat         *hdrhistogram.Histogram
	cur         *hdrhistogram.Histogram
	curSec      int
	bySec       *seconds
	acked       []int64
	failed      []int64
	unknown     []int64
	notSent     int64
	connects    int64
	connectErrs int64
}

func newRecorder(secs int, bySec *seconds) *recorder {
	return &recorder{lag: NewHistogram(), lat: NewHistogram(), cur: NewSecondHistogram(), bySec: bySec,
		acked: make([]int64, secs), failed: make([]int64, secs), unknown: make([]int64, secs)}
}

// ack records the service time of a write acknowledged in second s.
func (r *recorder) ack(s int, us int64) {
	if s != r.curSec {
		r.flush()
		r.curSec = s
	}
	_ = r.cur.RecordValue(us)
	_ = r.lat.RecordValue(us)
}

// flush hands the current second's histogram over.
func (r *recorder) flush() {
	if r.cur.TotalCount() > 0 {
		r.bySec.add(r.curSec, r.cur)
		r.cur.Reset()
	}
}

func (r *recorder) sec(at time.Duration) int {
	s := int(at / time.Second)
	if s < 0 {
		return 0
	}
	if s >= len(r.acked) {
		return len(r.acked) - 1
	}
	return s
}

// ClampUs is d in µs within a NewHistogram's range.
func ClampUs(d time.Duration) int64 {
	us := d.Microseconds()
	if us < 1 {
		return 1
	}
	if us > maxLatencyUs {
		return maxLatencyUs
	}
	return us
}

// writer takes jobs from the queue and writes them as writer w,
// reconnecting whenever its connection is lost, until the queue is closed
// or execCtx ends.
func writer(execCtx context.Context, cfg Config, pcfg *pgx.ConnConfig, w int, sh *shared, r *recorder, live *Live) {
	var conn *session
	var stopWatch func() bool
	node := -1
	drop := func() {
		if conn != nil {
			stopWatch()
			conn.conn.Close(context.Background())
			live.Writers.Add(-1)
		}
		conn, node = nil, -1
	}
	defer drop()
	connect := func() bool {
		for conn == nil {
			if execCtx.Err() != nil {
				return false
			}
			// One writer at a time looks for a writable node, pausing
			// between failed attempts while it holds the gate: during an
			// outage the cluster sees one attempt per pause, not one per
			// writer, and once one writer gets in the others follow at once.
			select {
			case sh.gate <- struct{}{}:
			case <-execCtx.Done():
				return false
			}
			c, err := dial(execCtx, pcfg, cfg.Unnamed)
			if execCtx.Err() != nil {
				<-sh.gate
				if err == nil {
					c.conn.Close(context.Background())
				}
				return false
			}
			r.connects++
			if err != nil {
				r.connectErrs++
				select {
				case <-execCtx.Done():
				case <-time.After(cfg.Reconnect):
				}
				<-sh.gate
				continue
			}
			<-sh.gate
			conn = c
			live.Writers.Add(1)
			// Writes run with no context of their own (pgx would start a
			// goroutine per query to watch it); the end of the run and
			// the write timeout reach them as deadlines on the socket.
			netConn := c.conn.PgConn().Conn()
			stopWatch = context.AfterFunc(execCtx, func() { _ = netConn.SetDeadline(time.Now()) })
			if cfg.NodeOf != nil {
				node = cfg.NodeOf(netConn.RemoteAddr().String())
				if cfg.ServerNode {
					node = -1
					if addr, err := serverAddr(execCtx, c.conn); err == nil {
						node = cfg.NodeOf(addr)
					}
				}
			}
		}
		return true
	}
	for {
		j, ok := sh.take()
		if !ok {
			return
		}
		// Hold the write until a writable node accepts us: it waits as a
		// client application's would; the wait shows as schedule lag.
		if !connect() {
			r.notSent++
			continue
		}
		if execCtx.Err() != nil {
			r.notSent++
			continue
		}
		sent := time.Since(cfg.Start)
		if j.intended >= 0 {
			r.lag.RecordValue(ClampUs(sent - j.intended))
		}
		cfg.Ledger.Begin(j.id, w, j.intended, sent)
		if cfg.WriteTimeout > 0 {
			_ = conn.conn.PgConn().Conn().SetDeadline(time.Now().Add(cfg.WriteTimeout))
		}
		outcome, err := conn.insert(OrderFor(cfg.Seed, j.id))
		done := time.Since(cfg.Start)
		s := r.sec(done)
		switch outcome {
		case Acked:
			r.ack(s, ClampUs(done-sent))
			r.acked[s]++
			cfg.Ledger.Finish(j.id, Acked, node, done)
			live.Acked.Add(1)
		case Failed:
			r.failed[s]++
			cfg.Ledger.Finish(j.id, Failed, node, done)
			live.Errors.Add(1)
			if needsReconnect(err) || conn.conn.IsClosed() {
				drop()
			}
		default:
			r.unknown[s]++
			cfg.Ledger.Finish(j.id, Unknown, node, done)
			live.Errors.Add(1)
			drop()
		}
	}
}

// session is a writer's connection, with what the server said while the
// last write was under way.
type session struct {
	conn *pgx.Conn
	pg   *pgconn.PgConn
	// committedLocally: a notice of the last write said its transaction
	// had committed locally (a synchronous commit's wait cut short).
	committedLocally atomic.Bool
	// bind is the insert's Bind message, its parameters encoded in
	// params: reused from one write to the next.
	bind pgproto3.Bind
	// parse, when set, goes before every Bind: the insert unprepared.
	parse  *pgproto3.Parse
	params [5][]byte
	buf    [64]byte
}

// insertStmt is the name of the insert prepared on every connection, and
// insertOIDs its parameter types: id bigint, customer_id integer, sku
// text, qty integer, amount_cents bigint.
const insertStmt = "pgbench_ha_insert"

var insertOIDs = []uint32{pgtype.Int8OID, pgtype.Int4OID, pgtype.TextOID, pgtype.Int4OID, pgtype.Int8OID}

// The messages that follow each Bind, as pgx's and libpq's
// ExecPrepared send them (the portal's Describe answers NoData).
var (
	describePortal = &pgproto3.Describe{ObjectType: 'P'}
	execute        = &pgproto3.Execute{}
	syncMsg        = &pgproto3.Sync{}
)

// serverAddr is the "host:port" the server of conn answers on.
func serverAddr(ctx context.Context, conn *pgx.Conn) (string, error) {
	var host string
	var port int
	err := conn.QueryRow(ctx, "SELECT host(inet_server_addr()), inet_server_port()", pgx.QueryExecModeExec).Scan(&host, &port)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// dial connects a session with pcfg and prepares the insert on it, unless
// unnamed: each write then parses it.
func dial(ctx context.Context, pcfg *pgx.ConnConfig, unnamed bool) (*session, error) {
	s := &session{}
	cfg := pcfg.Copy()
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if committedLocally(n) {
			s.committedLocally.Store(true)
		}
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.conn, s.pg = c, c.PgConn()
	s.bind = pgproto3.Bind{
		PreparedStatement:    insertStmt,
		ParameterFormatCodes: []int16{pgtype.BinaryFormatCode},
	}
	if unnamed {
		s.parse = &pgproto3.Parse{Query: InsertSQL, ParameterOIDs: insertOIDs}
		s.bind.PreparedStatement = ""
		return s, nil
	}
	if _, err := c.PgConn().Prepare(ctx, insertStmt, InsertSQL, insertOIDs); err != nil {
		c.Close(context.Background())
		return nil, fmt.Errorf("prepare the insert: %w", err)
	}
	return s, nil
}

// errClosed: the connection was closed before the insert was sent.
var errClosed = errors.New("connection closed")

// closedError is errClosed as pgconn reports a closed connection: safe to
// retry, as nothing was sent.
type closedError struct{}

func (closedError) Error() string     { return errClosed.Error() }
func (closedError) Unwrap() error     { return errClosed }
func (closedError) SafeToRetry() bool { return true }

// sentError is a failure to read the answer to an insert that was sent:
// whatever pgconn says of it, retrying is not safe, as the insert may
// have committed.
type sentError struct{ err error }

func (e *sentError) Error() string     { return "insert sent, no answer: " + e.err.Error() }
func (e *sentError) Unwrap() error     { return e.err }
func (e *sentError) SafeToRetry() bool { return false }

// insert writes o, the one statement of the workload, with the extended
// protocol (the statement prepared once per connection; Bind, Describe,
// Execute, Sync in one write, its parameters in binary), and returns its
// outcome and the error. It speaks pgconn's wire protocol directly: in a
// CPU profile pgx's Exec cost about a quarter of a write's client CPU
// besides its system calls (the arguments' encoding plans, the statement
// cache, the result reader) and armed a timer per write, against a
// write-read deadlock that one small message cannot cause, whose setting
// woke another thread.
func (s *session) insert(o Order) (Outcome, error) {
	s.committedLocally.Store(false)
	if s.pg.IsClosed() {
		return Failed, closedError{}
	}
	b := s.buf[:0]
	b = binary.BigEndian.AppendUint64(b, uint64(o.ID))
	b = binary.BigEndian.AppendUint32(b, uint32(o.CustomerID))
	b = append(b, o.SKU...)
	b = binary.BigEndian.AppendUint32(b, uint32(o.Qty))
	b = binary.BigEndian.AppendUint64(b, uint64(o.AmountCents))
	sku := 12 + len(o.SKU)
	s.params = [5][]byte{b[0:8], b[8:12], b[12:sku], b[sku : sku+4], b[sku+4 : sku+12]}
	s.bind.Parameters = s.params[:]
	fe := s.pg.Frontend()
	if s.parse != nil {
		fe.SendParse(s.parse)
	}
	fe.SendBind(&s.bind)
	fe.Send(describePortal)
	fe.SendExecute(execute)
	fe.SendSync(syncMsg)
	if err := fe.Flush(); err != nil {
		// pgproto3 says whether any of it was written (SafeToRetry).
		s.conn.Close(context.Background())
		return classify(err, false), err
	}
	// Like pgconn, keep the first error: a server error came before the
	// commit or instead of it, whatever broke afterwards.
	var first error
	for {
		msg, err := s.pg.ReceiveMessage(context.Background())
		if err != nil {
			if first == nil {
				first = &sentError{err: err}
			}
			return classify(first, s.committedLocally.Load()), first
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			if first == nil {
				first = pgconn.ErrorResponseToPgError(m)
			}
		case *pgproto3.ReadyForQuery:
			return classify(first, s.committedLocally.Load()), first
		}
	}
}

// committedLocally reports whether n is the warning a server sends when it
// stops waiting for a synchronous commit: the transaction has committed
// locally, whatever follows (the FATAL 57P01 of a shutdown, a closed
// connection). The warning of a shutdown carries SQLSTATE 57P01; that of
// a cancel only its detail, in the server's language.
func committedLocally(n *pgconn.Notice) bool {
	return n.Code == "57P01" || strings.Contains(n.Detail, "already committed locally")
}

// classify maps the result of an insert to an outcome: err as Exec
// returned it, committed whether the server warned that the transaction
// had committed locally.
//
// With the extended protocol an autocommit statement commits when the
// server processes Sync, after it sent CommandComplete: a server error,
// even one after CommandComplete, came before the commit or instead of it
// (a deferred constraint, a FATAL on shutdown). After the commit the
// server only warns, when a synchronous commit's wait is cut short: a
// FATAL or a closed connection then follows a commit that happened. A
// connection exception (SQLSTATE class 08) is no answer from the server:
// a pooler between the writer and the server (PgBouncer) sends one when
// its server connection breaks, whether or not the insert committed.
func classify(err error, committed bool) Outcome {
	if err == nil {
		return Acked
	}
	if committed {
		return Unknown
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if strings.HasPrefix(pgErr.Code, "08") {
			// A connection exception: from a pooler whose server
			// connection broke while the insert was on it (PgBouncer's
			// "server conn crashed?", 08P01), which may have committed.
			return Unknown
		}
		// The server answered with an error: the statement did not commit.
		return Failed
	}
	if pgconn.SafeToRetry(err) {
		// Nothing was sent.
		return Failed
	}
	return Unknown
}

// needsReconnect: errors after which this connection is of no more use for
// writing (read-only node, shutdown, crash recovery). A server error
// without a SQLSTATE class is treated like any other error.
func needsReconnect(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) >= 2 {
		switch pgErr.Code[:2] {
		case "25", "57", "08", "53", "58", "XX":
			return true
		}
		return false
	}
	return true
}
