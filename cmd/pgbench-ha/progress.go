package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// progress shows one live bar per variant on a terminal (elapsed/total,
// TPS, worst replica lag, phase, like pgbench -P), and one line per
// finished variant otherwise.
type progress struct {
	out   io.Writer
	tty   bool
	p     *mpb.Progress
	bar   *mpb.Bar
	mu    sync.Mutex
	state *barState // the current variant's; each bar keeps its own
}

type barState struct {
	name            string
	index, total    int
	phase           string
	tps, lag, vis   float64
	elapsed, window time.Duration
	writers         int64
}

func newProgress(out io.Writer, tty bool) *progress {
	pr := &progress{out: out, tty: tty}
	if tty {
		pr.p = mpb.New(mpb.WithOutput(out), mpb.WithWidth(24), mpb.WithRefreshRate(200*time.Millisecond))
	}
	return pr
}

func (pr *progress) Variant(index, total int, name string, window time.Duration) {
	st := &barState{name: name, index: index, total: total, window: window, phase: "bring-up"}
	pr.mu.Lock()
	pr.state = st
	pr.mu.Unlock()
	if !pr.tty {
		return
	}
	pr.bar = pr.p.AddBar(window.Milliseconds(),
		mpb.PrependDecorators(
			decor.Any(func(decor.Statistics) string {
				pr.mu.Lock()
				defer pr.mu.Unlock()
				return fmt.Sprintf("[%d/%d] %-32s", st.index+1, st.total, trunc(st.name, 32))
			}),
		),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string {
				pr.mu.Lock()
				defer pr.mu.Unlock()
				s := *st
				return fmt.Sprintf("%5.1f/%.0fs  %7.0f tps  lag %s %7.1f ms  %-9s", s.elapsed.Seconds(), s.window.Seconds(),
					s.tps, bytesStr(s.lag), s.vis, s.phase)
			}),
		),
	)
}

func (pr *progress) Phase(name string) {
	pr.mu.Lock()
	pr.state.phase = name
	pr.mu.Unlock()
}

func (pr *progress) Tick(elapsed time.Duration, tps, lag, vis float64, writers int64) {
	pr.mu.Lock()
	st := pr.state
	st.elapsed, st.tps, st.lag, st.vis, st.writers = elapsed, tps, lag, vis, writers
	pr.mu.Unlock()
	if pr.bar != nil {
		pr.bar.SetCurrent(min(elapsed.Milliseconds(), st.window.Milliseconds()))
	}
}

func (pr *progress) VariantDone(v *result.Variant) {
	if pr.bar != nil {
		if v.Status == "complete" {
			pr.bar.SetCurrent(pr.state.window.Milliseconds())
		}
		pr.bar.SetTotal(-1, true)
		pr.bar = nil
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	fmt.Fprintf(pr.out, "[%d/%d] %s: %s (%s), %.0f tps, p99 commit %.2f ms\n", pr.state.index+1, pr.state.total,
		v.Name, v.Status, v.Phase, v.Summary.TPS, v.Summary.CommitLatency.P99)
}

// Wait lets the bars draw their last state.
func (pr *progress) Wait() {
	if pr.p != nil {
		pr.p.Wait()
	}
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func bytesStr(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%6.1f GB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%6.1f MB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%6.1f kB", b/(1<<10))
	}
	return fmt.Sprintf("%6.0f B ", b)
}
