// Package projections runs folds of the log into Pebble databases.
//
// A projection is a name, the subjects it reads, and a pure fold. The Runner feeds
// it events from its checkpoint + 1 and commits each batch of folded events together
// with the new checkpoint in one Pebble batch, so every event takes effect exactly
// once however the process dies. A projection can always be deleted and rebuilt from
// the log.
package projections

import (
	"bytes"
	"sort"
)

// State is the key-value view a fold reads and writes. Keys are the fold's own;
// the runner keeps its bookkeeping elsewhere. A value returned by Get stays valid
// until the next call on the State.
type State interface {
	Get(key []byte) (value []byte, ok bool, err error)
	Set(key, value []byte) error
	Delete(key []byte) error
	// DeletePrefix removes every key that starts with prefix.
	DeletePrefix(prefix []byte) error
	// Scan calls fn for each key with prefix in ascending order (descending when
	// reverse) until fn returns false. Keys and values are valid only during fn.
	Scan(prefix []byte, reverse bool, fn func(key, value []byte) bool) error
}

// Reader is the read-only part of State, used by queries.
type Reader interface {
	Get(key []byte) (value []byte, ok bool, err error)
	Scan(prefix []byte, reverse bool, fn func(key, value []byte) bool) error
}

// MemState is an in-memory State for testing folds without Pebble. It is not safe
// for concurrent use.
type MemState struct{ m map[string][]byte }

// NewMemState returns an empty MemState.
func NewMemState() *MemState { return &MemState{m: map[string][]byte{}} }

func (s *MemState) Get(key []byte) ([]byte, bool, error) {
	v, ok := s.m[string(key)]
	return v, ok, nil
}

func (s *MemState) Set(key, value []byte) error {
	s.m[string(key)] = bytes.Clone(value)
	return nil
}

func (s *MemState) Delete(key []byte) error {
	delete(s.m, string(key))
	return nil
}

func (s *MemState) DeletePrefix(prefix []byte) error {
	for k := range s.m {
		if bytes.HasPrefix([]byte(k), prefix) {
			delete(s.m, k)
		}
	}
	return nil
}

func (s *MemState) Scan(prefix []byte, reverse bool, fn func(key, value []byte) bool) error {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		if bytes.HasPrefix([]byte(k), prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if reverse {
		for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
			keys[i], keys[j] = keys[j], keys[i]
		}
	}
	for _, k := range keys {
		if !fn([]byte(k), s.m[k]) {
			break
		}
	}
	return nil
}

// Dump returns every key and value in key order, for comparing states.
func (s *MemState) Dump() [][2]string {
	var out [][2]string
	_ = s.Scan(nil, false, func(k, v []byte) bool {
		out = append(out, [2]string{string(k), string(v)})
		return true
	})
	return out
}

// prefixEnd returns the first key after every key with prefix (nil: no end).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
