package cli

import (
	"bytes"
	"github.com/wake-run/wake/node/host/hosttest"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wake-run/wake/services/controlplane/credentials"
)

// envRunMain makes the test binary run wake's Main on its arguments instead of
// the tests: how a test runs wake as another user.
const envRunMain = "WAKE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// asUser runs wake with args as the local user name, with only env set, the way
// that user would from a shell.
func asUser(t *testing.T, name string, env []string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", name, "--", "env", "-i", envRunMain + "=1", "PATH=/usr/bin:/bin"},
		append(env, append([]string{binaryFor(t, name)}, args...)...)...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// binaryFor copies this test binary where user name can run it (the build
// directory is root's alone).
func binaryFor(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wake-as-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "wake")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// An unprivileged local user without the credential can do nothing with a
// server root started; given a copy of the admin credential (mode 0600, theirs)
// they can apply and read.
func TestUnprivilegedUserIsRefusedUntilGivenTheAdminCredential(t *testing.T) {
	hosttest.RequireRoot(t, "running wake as another user with runuser")
	nobody, err := user.Lookup("nobody")
	if err != nil {
		hosttest.Unmet(t, "the user nobody: "+err.Error())
	}
	h := newHarness(t)
	h.ok("apply", "-f", h.file("db.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: s3cr3t}\n"))
	server := h.srv.ClientURL()
	admin := h.srv.AdminCredentials()
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: by-nobody}\ndata: {k: v}\n"
	home := "HOME=/nonexistent"

	for _, args := range [][]string{
		{"apply", "-f", "-"},
		{"get", "secret", "db", "-o", "yaml"},
		{"events"},
		{"get", "secrets", "--credentials", admin}, // root's file: nobody cannot read it
	} {
		out, errOut, err := asUser(t, "nobody", []string{home}, manifest, append(args, "--server", server)...)
		if err == nil || strings.Contains(out+errOut, "s3cr3t") || strings.Contains(out+errOut, "czNjcjN0") {
			t.Errorf("nobody ran wake %s: err %v, out %q %q", strings.Join(args, " "), err, out, errOut)
			continue
		}
		want := "refused the connection: no credentials (the admin credential is in /var/lib/wake/admin.creds"
		if args[len(args)-1] == admin {
			want = "permission denied"
		}
		if !strings.Contains(errOut, want) {
			t.Errorf("nobody ran wake %s: stderr %q, want it to say %q", strings.Join(args, " "), errOut, want)
		}
	}

	// The admin copies the credential to nobody, who keeps it mode 0600.
	dir, err := os.MkdirTemp("", "nobody-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	key, err := credentials.Load(admin, credentials.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(dir, ".config", "wake", "credentials")
	if err := key.Write(copied, uid, gid); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(copied)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the copied credential has mode %04o, want 0600", fi.Mode().Perm())
	}
	// Found in nobody's config directory without a flag, as kubectl finds ~/.kube/config.
	withHome := []string{"HOME=" + dir}
	if out, errOut, err := asUser(t, "nobody", withHome, manifest, "apply", "-f", "-", "--server", server); err != nil || out != "configmap/by-nobody created\n" {
		t.Errorf("nobody with the admin credential: apply: %v %q %q", err, out, errOut)
	}
	if out, errOut, err := asUser(t, "nobody", []string{home, credentials.EnvFile + "=" + copied}, "", "get", "configmap", "by-nobody", "--server", server); err != nil || !strings.Contains(out, "by-nobody") {
		t.Errorf("nobody with WAKE_CREDENTIALS: get: %v %q %q", err, out, errOut)
	}
}

// wake up copies the admin credential into the config directory of the user
// who started it, mode 0600, where that user's commands find it.
func TestServerInstallsTheAdminCredentialForItsUser(t *testing.T) {
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	t.Setenv("SUDO_USER", "")
	t.Setenv(credentials.EnvFile, "")
	h := newHarness(t)
	path, err := installAdminCredential(h.srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(config, "wake", "credentials"); path != want {
		t.Errorf("installed at %s, want %s", path, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, fi.Mode().Perm())
	}
	g := &globals{}
	if got := g.credentials(); got != path {
		t.Errorf("the CLI looks for its credential at %q, want %q", got, path)
	}
	if r := execute(nil, "get", "namespaces", "--server", h.srv.ClientURL()); r.failed() {
		t.Errorf("get namespaces with the installed credential: %s", r.errLine)
	}
}
