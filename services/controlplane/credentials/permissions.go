package credentials

import (
	"github.com/nats-io/nats-server/v2/server"
	"github.com/wake-run/wake/events"
)

// The names a client identity may touch; the control plane checks them against
// the packages that own them in its tests.
const (
	stream          = events.DefaultStream
	heartbeatBucket = "WAKE_NODE_HEARTBEATS"
)

// readLog is what reading and appending to the stream of record needs: append
// (publish on an event subject, the acknowledgement arrives in the inbox), the
// stream's info and last sequence, single messages by sequence or subject, and
// ephemeral ordered consumers on it (create, fetch, info, delete on reset).
var readLog = []string{
	events.AllSubjects,
	"$JS.API.INFO",
	"$JS.API.STREAM.INFO.*",
	"$JS.API.STREAM.NAMES",
	"$JS.API.STREAM.MSG.GET." + stream,
	"$JS.API.DIRECT.GET." + stream,
	"$JS.API.DIRECT.GET." + stream + ".>",
	"$JS.API.CONSUMER.CREATE." + stream,
	"$JS.API.CONSUMER.CREATE." + stream + ".>",
	"$JS.API.CONSUMER.INFO." + stream + ".*",
	"$JS.API.CONSUMER.DELETE." + stream + ".*",
	"$JS.API.CONSUMER.MSG.NEXT." + stream + ".*",
	"$JS.FC.>",
}

// Destructive names no client identity may publish, whatever it is allowed: the
// JetStream API that deletes, purges, creates or reconfigures a stream (every KV
// bucket is a stream KV_<bucket>, every object store OBJ_<store>), deletes a
// message, restores or snapshots one, or moves its leader; and direct writes to
// key-value buckets and object stores, where a purge or a delete marker is a
// message on $KV.<bucket>.<key> or $O.<store>.>.
var Destructive = []string{
	"$JS.API.STREAM.CREATE.>",
	"$JS.API.STREAM.UPDATE.>",
	"$JS.API.STREAM.DELETE.>",
	"$JS.API.STREAM.PURGE.>",
	"$JS.API.STREAM.MSG.DELETE.>",
	"$JS.API.STREAM.SNAPSHOT.>",
	"$JS.API.STREAM.RESTORE.>",
	"$JS.API.STREAM.PEER.>",
	"$JS.API.STREAM.LEADER.>",
	"$JS.API.ACCOUNT.>",
	"$JS.API.META.>",
	"$JS.API.SERVER.>",
	"$KV.>",
	"$O.>",
}

// Permissions is what the holder of publicKey may publish and subscribe as id
// (nil: everything, for the control plane alone).
//
// Admin publishes: appends to ev.>; reads the stream of record (readLog); the
// services' requests (wake.query.>, wake.secrets.seal, wake.projections.>);
// the node agents' logs, exec, port-forward and image requests
// (wake.node.*.logs|exec|portforward|image.*), the exec session's stdin and
// keep-alive (wake.exec.>) and a forwarded connection's bytes, keep-alive and
// close (wake.portforward.>); its own inbox (the keep-alive of a log stream).
// It subscribes only its own inbox: it never sees a Secret being sealed nor any
// other identity's replies.
//
// Node publishes: appends and reads like Admin; queries (wake.query.>); its
// heartbeat ($KV.WAKE_NODE_HEARTBEATS.*, the one key-value write it has); the
// replies and streams of logs and exec (_INBOX.>, into the requester's inbox).
// It subscribes its own inbox, the requests addressed to nodes (wake.node.>),
// exec sessions (wake.exec.>), port-forward sessions (wake.portforward.>) and
// the keep-alives of log streams (_INBOX.*.*.*.alive). Per-node subjects (a node only its own) come with
// per-node keys: the tokens are laid out for it.
//
// Neither may publish Destructive, nor subscribe wake.secrets.> or any request
// subject of the services.
func Permissions(id Identity, publicKey string) *server.Permissions {
	inbox := InboxPrefix(publicKey) + ".>"
	switch id {
	case Admin:
		pub := append([]string{
			"wake.query.>", "wake.secrets.seal", "wake.projections.>",
			"wake.node.*.logs", "wake.node.*.exec", "wake.node.*.image.>", "wake.exec.>",
			"wake.node.*.portforward", "wake.portforward.>",
			inbox,
		}, readLog...)
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: pub, Deny: Destructive},
			Subscribe: &server.SubjectPermission{Allow: []string{inbox}},
		}
	case Node:
		pub := append([]string{
			"wake.query.>", "$KV." + heartbeatBucket + ".*",
			"_INBOX.>", "wake.exec.>",
		}, readLog...)
		return &server.Permissions{
			Publish: &server.SubjectPermission{Allow: pub,
				// The heartbeat key-value write is allowed above; everything
				// else in Destructive is not.
				Deny: without(Destructive, "$KV.>")},
			Subscribe: &server.SubjectPermission{
				Allow: []string{inbox, "wake.node.>", "wake.exec.>", "wake.portforward.>", "_INBOX.*.*.*.alive"},
				Deny:  []string{"wake.secrets.>", "wake.query.>", "wake.projections.>"},
			},
		}
	default:
		return nil
	}
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// Users is the server's nkey users: each key with its identity's permissions.
func Users(keys ...*Key) []*server.NkeyUser {
	users := make([]*server.NkeyUser, 0, len(keys))
	for _, k := range keys {
		users = append(users, &server.NkeyUser{Nkey: k.public, Permissions: Permissions(k.Identity, k.public)})
	}
	return users
}
