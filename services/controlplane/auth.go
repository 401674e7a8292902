package controlplane

import (
	"fmt"
	"path/filepath"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/services/controlplane/credentials"
)

// identities are the keys the server knows: its own, made at every start and
// never written, and the admin's and the nodes', kept in the data directory.
type identities struct {
	server, admin, node *credentials.Key
	adminFile, nodeFile string
}

// loadIdentities reads the admin and node credentials from dataDir, creating
// them (mode 0600) on first start, and makes the server's own key.
func loadIdentities(dataDir string) (*identities, error) {
	ids := &identities{adminFile: filepath.Join(dataDir, credentials.AdminFile), nodeFile: filepath.Join(dataDir, credentials.NodeFile)}
	var err error
	if ids.server, err = credentials.Generate(credentials.Server); err != nil {
		return nil, err
	}
	if ids.admin, err = credentials.LoadOrCreate(ids.adminFile, credentials.Admin); err != nil {
		return nil, err
	}
	if ids.node, err = credentials.LoadOrCreate(ids.nodeFile, credentials.Node); err != nil {
		return nil, err
	}
	return ids, nil
}

// users is what the NATS server accepts; nil when authentication is off.
func (ids *identities) users() []*server.NkeyUser {
	if ids == nil {
		return nil
	}
	return credentials.Users(ids.server, ids.admin, ids.node)
}

// AdminCredentials is the path of the admin credential file in the data
// directory ("" when the server runs with InsecureNoAuth). Clients pass it to
// sign in: client.Connect(srv.ClientURL(), srv.AdminCredentials()).
func (s *Server) AdminCredentials() string {
	if s.ids == nil {
		return ""
	}
	return s.ids.adminFile
}

// NodeCredentials is the path of the node credential file in the data
// directory ("" with InsecureNoAuth). An operator copies it to another machine
// for `wake agent --credentials FILE`.
func (s *Server) NodeCredentials() string {
	if s.ids == nil {
		return ""
	}
	return s.ids.nodeFile
}

// ConnectInProcess opens a connection to the embedded server without a socket,
// signed in with the credential file at credFile ("" with InsecureNoAuth).
// `wake up` runs its node agent on such a connection as the node identity.
func (s *Server) ConnectInProcess(credFile string, opts ...nats.Option) (*nats.Conn, error) {
	if credFile != "" {
		creds, err := credentials.Options(credFile)
		if err != nil {
			return nil, err
		}
		opts = append(creds, opts...)
	}
	nc, err := nats.Connect(s.ns.ClientURL(), append(opts, nats.InProcessServer(s.ns))...)
	if err != nil {
		return nil, fmt.Errorf("connect to the embedded server: %w", err)
	}
	return nc, nil
}

// serverOptions sign the server's own connection in as the control plane.
func (ids *identities) serverOptions() []nats.Option {
	if ids == nil {
		return nil
	}
	return ids.server.Options()
}
