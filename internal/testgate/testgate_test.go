package testgate

import (
	"errors"
	"testing"
)

// fakeT records what the gate did instead of stopping the test.
type fakeT struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Skip(...any)           { f.skipped = true }
func (f *fakeT) Skipf(string, ...any)  { f.skipped = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true }

func TestMissing(t *testing.T) {
	const env = "PGBENCH_HA_TESTGATE_TEST"
	tests := []struct {
		name                string
		value               string
		wantSkip, wantFatal bool
	}{
		{"not required: skip", "", true, false},
		{"required: fail", "1", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(env, tc.value)
			f := &fakeT{}
			Missing(f, env, errors.New("no postgres"))
			if f.skipped != tc.wantSkip || f.failed != tc.wantFatal {
				t.Errorf("skipped %v, failed %v; want %v, %v", f.skipped, f.failed, tc.wantSkip, tc.wantFatal)
			}
		})
	}
}

func TestIntegration(t *testing.T) {
	t.Setenv(RequirePG, "1") // required or not, -short skips
	f := &fakeT{}
	Integration(f)
	if f.skipped != testing.Short() || f.failed {
		t.Errorf("-short %v: skipped %v, failed %v", testing.Short(), f.skipped, f.failed)
	}
}
