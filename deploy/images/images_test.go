package images

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestBusyboxNeedsStaticBinary(t *testing.T) {
	for _, path := range []string{filepath.Join(t.TempDir(), "busybox"), "/bin/ls"} {
		if _, err := Busybox(context.Background(), path); !errors.Is(err, ErrBusyboxMissing) {
			t.Errorf("Busybox(%s): err = %v, want ErrBusyboxMissing", path, err)
		}
	}
}
