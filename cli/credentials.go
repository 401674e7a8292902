package cli

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/wake-run/wake/services/controlplane/credentials"
)

// credentials is the credential file a client signs in with: --credentials,
// else $WAKE_CREDENTIALS, else the first of these that this user can read:
// ~/.config/wake/credentials (where `wake up` copies the admin credential for
// the user who ran it) and admin.creds in the default data directory. "" when
// there is none.
func (g *globals) credentials() string {
	return findCredentials(g.creds, credentials.AdminFile)
}

// findCredentials resolves a credential as credentials does, falling back to
// file in the default data directory.
func findCredentials(flag, file string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv(credentials.EnvFile); env != "" {
		return env
	}
	candidates := []string{filepath.Join(defaultDataDir(), file)}
	if file == credentials.AdminFile {
		candidates = append([]string{credentials.CurrentUserFile()}, candidates...)
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if f, err := os.Open(p); err == nil {
			f.Close()
			return p
		}
	}
	return ""
}

// installAdminCredential copies the admin credential at adminFile to the config
// directory of the person who started the server, so that their wake commands
// find it: for root started through sudo, $SUDO_USER's
// ~/.config/wake/credentials, owned by them; otherwise this user's
// CurrentUserFile. The copy is mode 0600. It returns the path written.
func installAdminCredential(adminFile string) (string, error) {
	key, err := credentials.Load(adminFile, credentials.Admin)
	if err != nil {
		return "", err
	}
	path, uid, gid := credentials.CurrentUserFile(), -1, -1
	if name := os.Getenv("SUDO_USER"); os.Geteuid() == 0 && name != "" && name != "root" {
		u, err := user.Lookup(name)
		if err != nil {
			return "", fmt.Errorf("credentials for $SUDO_USER %s: %w", name, err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		path = credentials.UserFile(u.HomeDir, "")
	}
	if path == "" {
		return "", errors.New("no home directory to keep the admin credential in; use --credentials " + adminFile)
	}
	return path, key.Write(path, uid, gid)
}
