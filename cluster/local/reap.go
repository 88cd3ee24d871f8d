package local

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Orphans. When a node is killed, its postmaster dies first and its
// children are reparented: by default to PID 1, which on a host reaps them
// but in a CI job container (PID 1 a shell or `sleep`) never does, so
// every killed node would leave zombies there. The harness therefore makes
// itself the child subreaper of what it starts: orphans of its servers
// come to it, and it reaps them.
//
// It must not reap its own children: os/exec waits for those (the
// postmasters, initdb, pg_basebackup, and whatever else the program runs),
// and reaping one first would steal its exit status. They are told apart
// by session and process group. The processes this program starts stay
// in its session (none is started with Setsid), each either in the
// program's process group or leading a group of its own (Setpgid). Every
// child of a postmaster calls setsid(), and one killed before it did is
// left in its postmaster's group, which it does not lead. So a zombie
// child of this process that is in another session, or in a group that
// it does not lead and that is not the program's, is an adopted orphan;
// only those are reaped, each by its pid.

var reaper struct {
	once    sync.Once
	mu      sync.Mutex
	on      bool // this process is a child subreaper
	session int  // this process's session
	pgrp    int  // and process group
}

// adoptOrphans makes this process the child subreaper of every process it
// starts and reaps the orphans that come to it, on SIGCHLD and whenever a
// node is found gone. Called once the first backend is made; without it
// (a kernel before 3.4) orphans go to PID 1 as before.
func adoptOrphans() {
	reaper.once.Do(func() {
		sid, err := unix.Getsid(0)
		if err != nil {
			return
		}
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return
		}
		reaper.mu.Lock()
		reaper.on, reaper.session, reaper.pgrp = true, sid, unix.Getpgrp()
		reaper.mu.Unlock()
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGCHLD)
		go func() {
			for range ch {
				reapOrphans()
			}
		}()
	})
}

// reapOrphans reaps every adopted orphan that has exited (see above) and
// returns how many it reaped.
func reapOrphans() int {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	if !reaper.on {
		return 0
	}
	me := os.Getpid()
	var orphans []int
	eachProc(func(pid int, st procStat) {
		if st.ppid == me && st.exited() && adopted(pid, st) {
			orphans = append(orphans, pid)
		}
	})
	n := 0
	for _, pid := range orphans {
		var ws unix.WaitStatus
		if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err == nil && got == pid {
			n++
		}
	}
	return n
}

// adopted tells an orphan that came to this process from a child it
// started itself (see above).
func adopted(pid int, st procStat) bool {
	return st.session != reaper.session || (st.pgrp != pid && st.pgrp != reaper.pgrp)
}

// AdoptOrphans makes this process the child subreaper of what it starts
// and reaps the orphans that come to it, as New does: for another backend
// whose servers are orphaned by design (Patroni double-forks its
// postmaster), so that they come to the harness, not to a PID 1 that may
// never reap them.
func AdoptOrphans() { adoptOrphans() }
