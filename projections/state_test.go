package projections

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/wake-run/wake/events"
)

func TestPrefixEnd(t *testing.T) {
	cases := []struct{ prefix, want []byte }{
		{[]byte("a"), []byte("b")},
		{[]byte("a/"), []byte("a0")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{'a', 0xfe, 0xff}, []byte{'a', 0xff}},
		{[]byte{0x01, 0xff, 0xff}, []byte{0x02}},
		{[]byte{0x00}, []byte{0x01}},
		{[]byte{0xff}, nil},
		{[]byte{0xff, 0xff}, nil},
		{nil, nil},
	}
	for _, tc := range cases {
		prefix := slices.Clone(tc.prefix)
		if got := prefixEnd(tc.prefix); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("prefixEnd(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
		if !slices.Equal(prefix, tc.prefix) {
			t.Errorf("prefixEnd modified its argument to %q", tc.prefix)
		}
	}
}

// stateKeys are stored in every backend before a test; sorted bytewise they are:
var stateKeys = []string{
	"", "\x00", "a", "a/1", "a/10", "a/2", "ab", "a\xff", "a\xff\x00", "a\xff\xff", "b", "\xff", "\xff\xff",
}

// backend builds a State holding stateKeys (value: the key reversed) and returns
// it with a function that reads the state back as a Reader after committing it.
type backend struct {
	name string
	new  func(t *testing.T) (State, func() Reader)
}

func openDB(t *testing.T) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(t.TempDir(), &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// pebbleReader commits b and returns a snapshot of db, closed when the test ends.
func pebbleReader(t *testing.T, db *pebble.DB, b *pebble.Batch) Reader {
	t.Helper()
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	snap := db.NewSnapshot()
	t.Cleanup(func() { snap.Close() })
	return snapshotReader{snap}
}

func load(t *testing.T, s State) {
	t.Helper()
	for _, k := range stateKeys {
		v := []byte(k)
		slices.Reverse(v)
		if err := s.Set([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
}

var backends = []backend{
	{"MemState", func(t *testing.T) (State, func() Reader) {
		s := NewMemState()
		load(t, s)
		return s, func() Reader { return s }
	}},
	{"batch over empty db", func(t *testing.T) (State, func() Reader) {
		db := openDB(t)
		b := db.NewIndexedBatch()
		t.Cleanup(func() { b.Close() })
		load(t, batchState{b})
		return batchState{b}, func() Reader { return pebbleReader(t, db, b) }
	}},
	{"batch over committed db", func(t *testing.T) (State, func() Reader) {
		db := openDB(t)
		first := db.NewIndexedBatch()
		load(t, batchState{first})
		if err := first.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		first.Close()
		b := db.NewIndexedBatch()
		t.Cleanup(func() { b.Close() })
		return batchState{b}, func() Reader { return pebbleReader(t, db, b) }
	}},
}

func scanKeys(t *testing.T, r Reader, prefix string, reverse bool, limit int) []string {
	t.Helper()
	out := []string{}
	if err := r.Scan([]byte(prefix), reverse, func(k, v []byte) bool {
		want := slices.Clone(k)
		slices.Reverse(want)
		if string(v) != string(want) {
			t.Errorf("key %q holds %q, want %q", k, v, want)
		}
		out = append(out, string(k))
		return limit == 0 || len(out) < limit
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStateScan(t *testing.T) {
	cases := []struct {
		prefix  string
		reverse bool
		limit   int
		want    []string
	}{
		{"", false, 0, stateKeys},
		{"", true, 3, []string{"\xff\xff", "\xff", "b"}},
		{"a/", false, 0, []string{"a/1", "a/10", "a/2"}},
		{"a/", true, 0, []string{"a/2", "a/10", "a/1"}},
		{"a/", false, 2, []string{"a/1", "a/10"}},
		{"a", false, 0, []string{"a", "a/1", "a/10", "a/2", "ab", "a\xff", "a\xff\x00", "a\xff\xff"}},
		{"a", true, 1, []string{"a\xff\xff"}},
		{"a\xff", false, 0, []string{"a\xff", "a\xff\x00", "a\xff\xff"}},
		{"a\xff", true, 0, []string{"a\xff\xff", "a\xff\x00", "a\xff"}},
		{"\xff", false, 0, []string{"\xff", "\xff\xff"}},
		{"\xff\xff", true, 0, []string{"\xff\xff"}},
		{"\xff\xff\xff", false, 0, []string{}},
		{"\x00", false, 0, []string{"\x00"}},
		{"c", false, 0, []string{}},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			s, committed := be.new(t)
			for _, tc := range cases {
				if got := scanKeys(t, s, tc.prefix, tc.reverse, tc.limit); !slices.Equal(got, tc.want) {
					t.Errorf("Scan(%q, reverse=%v, limit %d) = %q, want %q", tc.prefix, tc.reverse, tc.limit, got, tc.want)
				}
			}
			if v, ok, err := s.Get([]byte("a\xff\x00")); err != nil || !ok || string(v) != "\x00\xffa" {
				t.Errorf("Get = %q, %v, %v", v, ok, err)
			}
			if v, ok, err := s.Get([]byte("a\xff\x01")); err != nil || ok || v != nil {
				t.Errorf("Get of a missing key = %q, %v, %v", v, ok, err)
			}
			r := committed()
			for _, tc := range cases {
				if got := scanKeys(t, r, tc.prefix, tc.reverse, tc.limit); !slices.Equal(got, tc.want) {
					t.Errorf("committed: Scan(%q, reverse=%v, limit %d) = %q, want %q", tc.prefix, tc.reverse, tc.limit, got, tc.want)
				}
			}
		})
	}
}

func TestStateDeletePrefix(t *testing.T) {
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(stateKeys), func(k string) bool { return slices.Contains(drop, k) })
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"a\xff", without("a\xff", "a\xff\x00", "a\xff\xff")},
		{"\xff", without("\xff", "\xff\xff")},
		{"\xff\xff", without("\xff\xff")},
		{"a/1", without("a/1", "a/10")},
		{"a", without("a", "a/1", "a/10", "a/2", "ab", "a\xff", "a\xff\x00", "a\xff\xff")},
		{"zz", stateKeys},
		{"", []string{}},
	}
	for _, be := range backends {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%q", be.name, tc.prefix), func(t *testing.T) {
				s, committed := be.new(t)
				if err := s.DeletePrefix([]byte(tc.prefix)); err != nil {
					t.Fatal(err)
				}
				if got := scanKeys(t, s, "", false, 0); !slices.Equal(got, tc.want) {
					t.Fatalf("after DeletePrefix(%q): %q, want %q", tc.prefix, got, tc.want)
				}
				for _, k := range stateKeys {
					_, ok, err := s.Get([]byte(k))
					if err != nil || ok != slices.Contains(tc.want, k) {
						t.Fatalf("after DeletePrefix(%q): Get(%q) found %v (%v)", tc.prefix, k, ok, err)
					}
				}
				if got := scanKeys(t, committed(), "", false, 0); !slices.Equal(got, tc.want) {
					t.Fatalf("committed, after DeletePrefix(%q): %q, want %q", tc.prefix, got, tc.want)
				}
			})
		}
	}
}

// scriptOp is one State call of a scripted event; get and scan record what they
// saw under r/<seq>/<op>, so two backends that diverge anywhere end up with
// different dumps.
type scriptOp struct {
	Op      string `json:"op"` // set, del, delprefix, get, scan
	Key     string `json:"key"`
	Value   string `json:"value,omitempty"`
	Reverse bool   `json:"reverse,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

func scriptFold(s State, ev *events.Event) error {
	var ops []scriptOp
	if err := json.Unmarshal(ev.Payload, &ops); err != nil {
		return err
	}
	for i, op := range ops {
		key := []byte(op.Key)
		record := []byte(fmt.Sprintf("r/%06d/%03d", ev.Seq, i))
		var err error
		switch op.Op {
		case "set":
			err = s.Set(key, []byte(op.Value))
		case "del":
			err = s.Delete(key)
		case "delprefix":
			err = s.DeletePrefix(key)
		case "get":
			v, ok, gerr := s.Get(key)
			if gerr != nil {
				return gerr
			}
			err = s.Set(record, fmt.Appendf(nil, "%v %q", ok, v))
		case "scan":
			var seen []byte
			if serr := s.Scan(key, op.Reverse, func(k, v []byte) bool {
				seen = fmt.Appendf(seen, "%q=%q;", k, v)
				op.Limit--
				return op.Limit != 0
			}); serr != nil {
				return serr
			}
			sum := sha256.Sum256(seen) // fixed size: scans see earlier records
			err = s.Set(record, sum[:])
		default:
			return fmt.Errorf("unknown op %q", op.Op)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// randomScript returns events of random operations over a small key space that
// includes 0x00 and 0xff bytes, so prefixes, their ends and range deletions overlap.
func randomScript(rng *rand.Rand, n int) []*events.Event {
	alphabet := []string{"a", "b", "/", "\x00", "\xff"}
	key := func() string {
		k := ""
		for range rng.IntN(4) {
			k += alphabet[rng.IntN(len(alphabet))]
		}
		return k
	}
	kinds := []string{"set", "set", "set", "del", "delprefix", "get", "get", "scan", "scan"}
	evs := make([]*events.Event, n)
	for i := range evs {
		ops := make([]scriptOp, 1+rng.IntN(6))
		for j := range ops {
			ops[j] = scriptOp{Op: kinds[rng.IntN(len(kinds))], Key: key(), Reverse: rng.IntN(2) == 0, Limit: rng.IntN(4)}
			if ops[j].Op == "set" {
				ops[j].Value = key() + key()
			}
			if ops[j].Op == "delprefix" && ops[j].Key == "" && rng.IntN(10) > 0 {
				ops[j].Key = "a" // deleting everything only sometimes
			}
		}
		payload, _ := json.Marshal(ops)
		evs[i] = &events.Event{Type: "script", Seq: uint64(i + 1), Payload: payload}
	}
	return evs
}

// The same fold over MemState and over Pebble batches (committed every few events,
// so reads mix the batch and the database) must leave identical states.
func TestBatchStateBehavesLikeMemState(t *testing.T) {
	handwritten := []scriptOp{
		{Op: "set", Key: "a\xff", Value: "1"}, {Op: "set", Key: "a\xff\xff", Value: "2"}, {Op: "set", Key: "b", Value: ""},
		{Op: "delprefix", Key: "a\xff"}, {Op: "get", Key: "a\xff\xff"}, {Op: "scan", Key: ""},
		{Op: "set", Key: "a\xff\x00", Value: "3"}, {Op: "scan", Key: "a", Reverse: true}, {Op: "get", Key: "b"},
		{Op: "del", Key: "missing"}, {Op: "delprefix", Key: "\xff"}, {Op: "scan", Key: "a\xff\x00"},
	}
	payload, _ := json.Marshal(handwritten)
	scripts := map[string][]*events.Event{"handwritten": {{Type: "script", Seq: 1, Payload: payload}}}
	for seed := range uint64(6) {
		scripts[fmt.Sprint("seed ", seed)] = randomScript(rand.New(rand.NewPCG(seed, 42)), 300)
	}
	for name, evs := range scripts {
		t.Run(name, func(t *testing.T) {
			mem := NewMemState()
			db := openDB(t)
			b := db.NewIndexedBatch()
			commitEvery := 1 + len(name)%5
			for i, ev := range evs {
				if err := scriptFold(mem, ev); err != nil {
					t.Fatal(err)
				}
				if err := scriptFold(batchState{b}, ev); err != nil {
					t.Fatal(err)
				}
				if i%commitEvery == 0 {
					if err := b.Commit(pebble.NoSync); err != nil {
						t.Fatal(err)
					}
					b.Close()
					b = db.NewIndexedBatch()
				}
			}
			var got [][2]string
			if err := scan(pebbleReader(t, db, b).(snapshotReader).s, nil, false, func(k, v []byte) bool {
				got = append(got, [2]string{string(k), string(v)})
				return true
			}); err != nil {
				t.Fatal(err)
			}
			b.Close()
			want := mem.Dump()
			if len(want) == 0 {
				t.Fatal("the script left an empty state: it compares nothing")
			}
			if !slices.Equal(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("pebble and MemState differ at key %d: %q vs %q", i, got[i], want[i])
					}
				}
				t.Fatalf("pebble holds %d keys, MemState %d", len(got), len(want))
			}
		})
	}
}
