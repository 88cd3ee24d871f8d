package workload

import (
	"strconv"
	"strings"
	"testing"
)

// TestOrderForPinned pins a few orders: the same (seed, id) must give the
// same row on every machine and in every version, or runs made with the
// same seed stop being comparable.
func TestOrderForPinned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		seed, id int64
		want     Order
	}{
		{"seed 42 id 1", 42, 1, Order{ID: 1, CustomerID: 1962, SKU: "SKU-144", Qty: 5, AmountCents: 152160}},
		{"seed 42 id 1001", 42, 1001, Order{ID: 1001, CustomerID: 6866, SKU: "SKU-43", Qty: 4, AmountCents: 235472}},
		{"seed 1 id 1", 1, 1, Order{ID: 1, CustomerID: 9651, SKU: "SKU-32", Qty: 1, AmountCents: 91864}},
		{"negative seed", -3, 7, Order{ID: 7, CustomerID: 6213, SKU: "SKU-56", Qty: 5, AmountCents: 282785}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := OrderFor(tc.seed, tc.id); got != tc.want {
				t.Errorf("OrderFor(%d, %d) = %+v, want %+v", tc.seed, tc.id, got, tc.want)
			}
		})
	}
}

func TestOrderForDeterministic(t *testing.T) {
	t.Parallel()
	for _, seed := range []int64{0, 1, 42, -1, 1 << 40} {
		for id := int64(1); id <= 2000; id++ {
			a, b := OrderFor(seed, id), OrderFor(seed, id)
			if a != b {
				t.Fatalf("OrderFor(%d, %d) not deterministic: %+v then %+v", seed, id, a, b)
			}
			if a.ID != id {
				t.Fatalf("OrderFor(%d, %d).ID = %d", seed, id, a.ID)
			}
		}
	}
}

func TestOrderForSeedsDiffer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		s1, s2 int64
	}{
		{"adjacent seeds", 1, 2},
		{"zero and one", 0, 1},
		{"sign", 5, -5},
		{"large", 42, 42 + 1<<32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const n = 1000
			same := 0
			for id := int64(1); id <= n; id++ {
				if OrderFor(tc.s1, id) == OrderFor(tc.s2, id) {
					same++
				}
			}
			// Two independent orders share customer, sku, qty and amount
			// with negligible probability; allow a handful.
			if same > 2 {
				t.Errorf("seeds %d and %d give %d identical orders out of %d", tc.s1, tc.s2, same, n)
			}
		})
	}
}

func TestOrderForIdsDiffer(t *testing.T) {
	t.Parallel()
	// Rows of one workload are not all alike: the hash mixes the id.
	customers := map[int32]bool{}
	skus := map[string]bool{}
	for id := int64(1); id <= 1000; id++ {
		o := OrderFor(42, id)
		customers[o.CustomerID] = true
		skus[o.SKU] = true
	}
	if len(customers) < 900 {
		t.Errorf("1000 orders have only %d distinct customers", len(customers))
	}
	if len(skus) < 400 {
		t.Errorf("1000 orders have only %d distinct SKUs (of 500)", len(skus))
	}
}

func TestOrderForRanges(t *testing.T) {
	t.Parallel()
	for _, seed := range []int64{1, 42, -7} {
		for id := int64(1); id <= 5000; id++ {
			o := OrderFor(seed, id)
			if o.Qty < 1 || o.Qty > 5 {
				t.Fatalf("OrderFor(%d, %d).Qty = %d, want 1..5", seed, id, o.Qty)
			}
			if o.CustomerID < 0 || o.CustomerID >= 10000 {
				t.Fatalf("OrderFor(%d, %d).CustomerID = %d, want 0..9999", seed, id, o.CustomerID)
			}
			n, err := strconv.Atoi(strings.TrimPrefix(o.SKU, "SKU-"))
			if !strings.HasPrefix(o.SKU, "SKU-") || err != nil || n < 0 || n >= 500 {
				t.Fatalf("OrderFor(%d, %d).SKU = %q, want SKU-0..SKU-499", seed, id, o.SKU)
			}
			unit := o.AmountCents / int64(o.Qty)
			if o.AmountCents%int64(o.Qty) != 0 || unit < 100 || unit >= 100000 {
				t.Fatalf("OrderFor(%d, %d) = %+v: amount is not qty × 100..99999 cents", seed, id, o)
			}
		}
	}
}
