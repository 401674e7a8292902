package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/node/api"
)

// serveImages answers import (the request body is an image archive) and list.
func (a *Agent) serveImages(ctx context.Context, nc *nats.Conn) ([]*nats.Subscription, error) {
	answer := func(m *nats.Msg, fn func(context.Context) (api.ImageReply, error)) {
		go func() {
			c, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			r, err := fn(c)
			r.Node = a.cfg.NodeName
			if err != nil {
				r.Error = err.Error()
			}
			data, _ := json.Marshal(r)
			_ = m.Respond(data)
		}()
	}
	imp, err := nc.Subscribe(api.ImageImportSubject(a.cfg.NodeName), func(m *nats.Msg) {
		answer(m, func(c context.Context) (api.ImageReply, error) {
			imgs, err := a.rt.ImportImages(c, bytes.NewReader(m.Data))
			var r api.ImageReply
			for _, i := range imgs {
				r.Images = append(r.Images, api.ImageInfo{Ref: i.Ref, Digest: i.Digest, Size: i.Size})
			}
			return r, err
		})
	})
	if err != nil {
		return nil, err
	}
	ls, err := nc.Subscribe(api.ImageListSubject(a.cfg.NodeName), func(m *nats.Msg) {
		answer(m, func(c context.Context) (api.ImageReply, error) {
			imgs, err := a.rt.ListImages(c)
			var r api.ImageReply
			for _, i := range imgs {
				r.Images = append(r.Images, api.ImageInfo{Ref: i.Ref, Digest: i.Digest, Size: i.Size})
			}
			return r, err
		})
	})
	if err != nil {
		imp.Unsubscribe()
		return nil, err
	}
	return []*nats.Subscription{imp, ls}, nil
}
