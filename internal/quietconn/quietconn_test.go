package quietconn

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestWrap: a wrapped socket reads and writes what a plain one does,
// waits in the netpoller when there is nothing to read, honours read
// deadlines with an error that says Timeout, and reads EOF at the peer's
// close.
func TestWrap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := Wrap(raw)
	defer c.Close()
	peer := <-accepted
	if peer == nil {
		t.Fatal("no connection accepted")
	}

	// A write larger than a socket buffer completes while the peer reads.
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		got <- b
	}()
	if n, err := c.Write(big); err != nil || n != len(big) {
		t.Fatalf("write: %d, %v", n, err)
	}
	if b := <-got; len(b) != len(big) || b[len(b)-1] != big[len(big)-1] {
		t.Fatalf("peer read %d bytes, want %d", len(b), len(big))
	}

	// A read waits for the peer's write.
	go func() {
		time.Sleep(20 * time.Millisecond)
		peer.Write([]byte("pong"))
	}()
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}

	// A deadline ends a read with nothing to read as a timeout.
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	_, err = c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})

	peer.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want EOF", err)
	}
}
