package image

import (
	"errors"
	"io/fs"
	"testing"
)

func TestNormalize(t *testing.T) {
	const digest = "sha256:c630de425fbfb6028e9a3306a8d5147238acae95142c2abb48bbd10c1066f2fd"
	for _, tc := range []struct {
		in, want string
	}{
		{"busybox", "docker.io/library/busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36"},
		{"library/busybox", "docker.io/library/busybox:latest"},
		{"docker.io/busybox", "docker.io/library/busybox:latest"},
		{"docker.io/library/busybox:latest", "docker.io/library/busybox:latest"},
		{"index.docker.io/library/nginx:1", "docker.io/library/nginx:1"},
		{"bitnami/nginx", "docker.io/bitnami/nginx:latest"},
		{"wake.local/hostname-web:1", "wake.local/hostname-web:1"},
		{"example.org/team/app:1", "example.org/team/app:1"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"localhost/app:v2", "localhost/app:v2"},
		{"busybox@" + digest, "docker.io/library/busybox@" + digest},
		{"busybox:1.36@" + digest, "docker.io/library/busybox@" + digest},
	} {
		got, err := Normalize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "Busybox", "busybox:", "a b", "busybox:-1", "busybox@sha256:123", "example.org/Team/app"} {
		if got, err := Normalize(bad); !errors.Is(err, ErrInvalidReference) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalidReference", bad, got, err)
		}
	}
}

func TestFamiliar(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/busybox:latest": "busybox:latest",
		"busybox":                          "busybox:latest",
		"docker.io/bitnami/nginx:1":        "bitnami/nginx:1",
		"wake.local/hostname-web:1":        "wake.local/hostname-web:1",
	} {
		if got, err := Familiar(in); err != nil || got != want {
			t.Errorf("Familiar(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNormalizeTaggedRefusesDigestOnly(t *testing.T) {
	ref := "busybox@sha256:c630de425fbfb6028e9a3306a8d5147238acae95142c2abb48bbd10c1066f2fd"
	if _, err := normalizeTagged(ref); !errors.Is(err, ErrInvalidReference) {
		t.Fatalf("normalizeTagged(%q) = %v, want ErrInvalidReference", ref, err)
	}
}

func TestParseFile(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want File
	}{
		{"./app:/app", File{Source: "./app", Path: "/app"}},
		{"bin/app:/usr/local/bin/app:0755", File{Source: "bin/app", Path: "/usr/local/bin/app", Mode: 0o755}},
		{"site:/www:755", File{Source: "site", Path: "/www", Mode: 0o755}},
		{"t:/tmp:1777", File{Source: "t", Path: "/tmp", Mode: fs.ModeSticky | 0o777}},
		{"su:/bin/su:4755", File{Source: "su", Path: "/bin/su", Mode: fs.ModeSetuid | 0o755}},
	} {
		got, err := ParseFile(tc.in)
		if err != nil || got.Source != tc.want.Source || got.Path != tc.want.Path || got.Mode != tc.want.Mode {
			t.Errorf("ParseFile(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "app", ":/app", "app:", "app:rel/path", "app:/app:9", "app:/app:x", "app:/app:17777", "a:/b:0755:x"} {
		if got, err := ParseFile(bad); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("ParseFile(%q) = %+v, %v; want ErrInvalidSpec", bad, got, err)
		}
	}
}

func TestUnixModeRoundTrip(t *testing.T) {
	for _, m := range []uint32{0o755, 0o644, 0o1777, 0o4755, 0o2755, 0o600} {
		if got := unixMode(FileMode(m), 0); got != int64(m) {
			t.Errorf("unixMode(FileMode(%o)) = %o", m, got)
		}
	}
}
