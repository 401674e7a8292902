package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
)

// Image requests addressed to one node (core NATS request/reply, not the log).
func ImageImportSubject(node string) string { return "wake.node." + node + ".image.import" }

// ImageListSubject is where a node lists its images.
func ImageListSubject(node string) string { return "wake.node." + node + ".image.list" }

// ImageReply answers an image request.
type ImageReply struct {
	Node   string      `json:"node"`
	Images []ImageInfo `json:"images,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// ImageInfo is one image of a node.
type ImageInfo struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// serveImages answers import (the request body is an image archive) and list.
func (a *Agent) serveImages(ctx context.Context, nc *nats.Conn) ([]*nats.Subscription, error) {
	answer := func(m *nats.Msg, fn func(context.Context) (ImageReply, error)) {
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
	imp, err := nc.Subscribe(ImageImportSubject(a.cfg.NodeName), func(m *nats.Msg) {
		answer(m, func(c context.Context) (ImageReply, error) {
			imgs, err := a.rt.ImportImages(c, bytes.NewReader(m.Data))
			var r ImageReply
			for _, i := range imgs {
				r.Images = append(r.Images, ImageInfo{Ref: i.Ref, Digest: i.Digest, Size: i.Size})
			}
			return r, err
		})
	})
	if err != nil {
		return nil, err
	}
	ls, err := nc.Subscribe(ImageListSubject(a.cfg.NodeName), func(m *nats.Msg) {
		answer(m, func(c context.Context) (ImageReply, error) {
			imgs, err := a.rt.ListImages(c)
			var r ImageReply
			for _, i := range imgs {
				r.Images = append(r.Images, ImageInfo{Ref: i.Ref, Digest: i.Digest, Size: i.Size})
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
