package local

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// zombieChild starts /bin/true in a process group of its own and returns
// once it has exited, unreaped; the test reaps it with cmd.Wait.
func zombieChild(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Wait() })
	pid := cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for procState(pid) != "Z" {
		if time.Now().After(deadline) {
			t.Fatalf("child %d: state %q, never a zombie", pid, procState(pid))
		}
		time.Sleep(time.Millisecond)
	}
	return cmd
}

// TestZombieCountsAsGone: a process that exited and that nobody reaped yet
// (in a container, PID 1 may never reap) is gone for every check that asks
// whether a node's processes are.
func TestZombieCountsAsGone(t *testing.T) {
	cmd := zombieChild(t)
	pid := cmd.Process.Pid
	if err := syscall.Kill(-pid, 0); err != nil {
		t.Fatalf("kill(-%d, 0) = %v: the zombie's group should still exist for the kernel", pid, err)
	}
	if alive(pid) {
		t.Errorf("alive(%d) = true for a zombie", pid)
	}
	if groupLive(pid) {
		t.Errorf("groupLive(%d) = true when its only process is a zombie", pid)
	}
	done := make(chan struct{})
	close(done)
	p := &proc{cmd: cmd, pgid: pid, done: done, killed: []int{pid}}
	start := time.Now()
	if !p.groupGone(5 * time.Second) {
		t.Fatalf("groupGone = false for a group whose only process is a zombie")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("groupGone took %v", d)
	}
	// A running process of the group is not gone.
	sleeper := exec.Command("sleep", "10")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()
	if !groupLive(sleeper.Process.Pid) || !alive(sleeper.Process.Pid) {
		t.Errorf("a sleeping process counts as gone")
	}
}

// TestReaperLeavesOwnChildren: the reaper never takes the exit status of a
// child this process waits for itself (os/exec).
func TestReaperLeavesOwnChildren(t *testing.T) {
	adoptOrphans()
	cmd := zombieChild(t)
	if n := reapOrphans(); n != 0 {
		t.Errorf("reapOrphans reaped %d processes, want 0", n)
	}
	if procState(cmd.Process.Pid) != "Z" {
		t.Fatalf("child %d was reaped by someone else than its Wait", cmd.Process.Pid)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("Wait after reapOrphans: %v", err)
	}
	if !cmd.ProcessState.Success() {
		t.Errorf("exit status lost: %v", cmd.ProcessState)
	}
}

// TestReaperReapsOrphans: a process that outlives its parent comes to the
// harness (the child subreaper), like a backend whose postmaster was
// killed, and the harness reaps it when it exits.
func TestReaperReapsOrphans(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skipf("setsid missing: %v", err)
	}
	adoptOrphans()
	// sh starts a session of its own, as PostgreSQL's children do, and
	// exits at once: the sleep is orphaned.
	out, err := exec.Command("sh", "-c", "setsid sleep 0.2 </dev/null >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("pid %q: %v", out, err)
	}
	st, ok := readStat(pid)
	if !ok {
		t.Fatalf("orphan %d already gone", pid)
	}
	if st.ppid != os.Getpid() {
		t.Fatalf("orphan %d has parent %d, want this process %d, its subreaper", pid, st.ppid, os.Getpid())
	}
	deadline := time.Now().Add(5 * time.Second)
	for procState(pid) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d not reaped 5s on (state %s)", pid, procState(pid))
		}
		time.Sleep(5 * time.Millisecond)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); !errors.Is(err, unix.ECHILD) {
		t.Errorf("wait4(%d) after the reaper = %v, want ECHILD", pid, err)
	}
}

// ownZombies lists this process's children that exited and that nobody
// reaped.
func ownZombies() []int {
	var out []int
	eachProc(func(pid int, st procStat) {
		if st.ppid == os.Getpid() && st.exited() {
			out = append(out, pid)
		}
	})
	return out
}

// TestAdopted: which zombie children the reaper takes.
func TestAdopted(t *testing.T) {
	adoptOrphans()
	sid, pgrp := reaper.session, reaper.pgrp
	for _, c := range []struct {
		name string
		pid  int
		st   procStat
		want bool
	}{
		{"own child in the program's group", 100, procStat{session: sid, pgrp: pgrp}, false},
		{"own child leading its group (a postmaster)", 100, procStat{session: sid, pgrp: 100}, false},
		{"a postmaster's child, after setsid", 101, procStat{session: 101, pgrp: 101}, true},
		{"a postmaster's child, killed before setsid", 101, procStat{session: sid, pgrp: 100}, true},
		{"a grandchild in a backend's session", 102, procStat{session: 101, pgrp: 101}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := adopted(c.pid, c.st); got != c.want {
				t.Errorf("adopted(%d, %+v) = %v, want %v", c.pid, c.st, got, c.want)
			}
		})
	}
}
